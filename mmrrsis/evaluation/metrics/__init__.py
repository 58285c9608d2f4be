# Copyright (c) mmrrsis contributors. All rights reserved.
from .rrsis_metric import RRSISMetric

__all__ = ['RRSISMetric']
