# Copyright (c) mmrrsis contributors. All rights reserved.
