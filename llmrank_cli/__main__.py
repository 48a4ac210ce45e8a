import os
import sys

from .cli import main

code = main()
if int(os.environ.get("WORLD_SIZE", "1")) > 1:
    # a launched rank (torchrun, accelerate) skips the interpreter's teardown: there, threads of
    # gloo or pyarrow aborted a rank now and then ("terminate called without an active exception")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
