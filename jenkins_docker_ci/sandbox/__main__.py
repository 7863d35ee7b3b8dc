"""`python -m jenkins_docker_ci.sandbox serve`: the background process started by `jdci sandbox up`."""
import sys

from . import serve

if __name__ == "__main__":
    if sys.argv[1:] != ["serve"]:
        sys.exit("usage: python -m jenkins_docker_ci.sandbox serve   (use `jdci sandbox up` instead)")
    serve()
