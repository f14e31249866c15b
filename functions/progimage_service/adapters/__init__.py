"""The only modules that import botocore or touch the network; they speak the service's errors."""
