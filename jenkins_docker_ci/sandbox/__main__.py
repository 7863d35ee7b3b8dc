"""`python -m jenkins_docker_ci.sandbox serve [STATE_DIR]`: the background process started by `jdci sandbox up`.
STATE_DIR on the command line lets `down` tell this process from any other that got its pid after a restart."""
import os
import sys

from . import serve

if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"] or len(sys.argv) > 3:
        sys.exit("usage: python -m jenkins_docker_ci.sandbox serve [STATE_DIR]   (use `jdci sandbox up` instead)")
    if len(sys.argv) == 3:
        os.environ["JDCI_SANDBOX_DIR"] = sys.argv[2]
    serve()
