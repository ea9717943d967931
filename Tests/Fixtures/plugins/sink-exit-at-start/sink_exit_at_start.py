import sys

print("ModuleNotFoundError: No module named 'boto3'", file=sys.stderr, flush=True)
sys.exit(1)
