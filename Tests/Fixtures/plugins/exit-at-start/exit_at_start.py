import sys

print("Traceback (most recent call last):", file=sys.stderr)
print("ModuleNotFoundError: No module named 'requests'", file=sys.stderr)
sys.exit(1)
