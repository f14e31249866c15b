"""The only modules that import boto3 or touch the network; they speak the service's errors."""
