import sys, time

sys.stdin.readline()
print("warming up a very large cache...", file=sys.stderr, flush=True)
time.sleep(3600)
