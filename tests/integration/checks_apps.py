"""Tiny busybox-httpd apps for the check tests: images that differ in one page, run on a network of the test's own."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from jenkins_docker_ci.checks import containers

DOCKERFILE = """FROM jdci-base/busybox:latest
COPY www /www
EXPOSE 8000
CMD ["httpd", "-f", "-p", "8000", "-h", "/www"]
"""

PAGE = """<!DOCTYPE html><html><head><title>Shop</title>
<style>body {{ font-family: sans-serif; margin: 0; }} h1 {{ margin: 16px; }} .ad {{ background: #ffd; height: 60px;
padding: 8px; }} .box {{ height: {box}px; background: #36c; margin: 16px; }}
@keyframes spin {{ from {{ transform: rotate(0deg); }} to {{ transform: rotate(360deg); }} }}
.spinner {{ width: 20px; height: 20px; background: #c33; animation: spin 0.3s linear infinite; }}</style>
<script>window.__x = 1;</script></head>
<body><h1 id="title">{title}</h1><div class="ad">{ad}</div><div class="box"></div><div class="spinner"></div>
<p>Total: 42 EUR</p>{extra}</body></html>
"""


def page(title: str = "Checkout", ad: str = "Advert one", box: int = 80, extra: str = "") -> str:
    return PAGE.format(title=title, ad=ad, box=box, extra=extra)


def build(client, tag: str, html: str) -> str:
    return containers.build_from_memory(
        client, tag=tag, dockerfile=DOCKERFILE, files={"www/index.html": html.encode(), "www/healthz": b"ok"},
        image_labels={"io.jdci.managed": "true"}, what=tag)


@contextmanager
def network(client, name: str) -> Iterator[str]:
    client.api.create_network(name, driver="bridge", labels={"io.jdci.managed": "true", "io.jdci.env": name})
    try:
        yield name
    finally:
        client.api.remove_network(name)


@contextmanager
def app(client, image: str, env: str) -> Iterator[str]:
    """The "PR environment": one app container on the network; yields its URL."""
    with containers.alongside(client, image=image, name=f"{env}-app", network=env, port=8000,
                              health_path="/healthz", deadline=time.monotonic() + 60,
                              container_labels=containers.labels("app", env=env)) as url:
        yield url


def remove_images(client, *refs: str) -> None:
    for ref in refs:
        containers.remove_image(client, ref)
