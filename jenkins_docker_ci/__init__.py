"""jenkins-docker-ci: take a pull request from opened to merged safely (see README.md)."""
__version__ = "0.1.0"
