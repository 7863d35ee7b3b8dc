"""The shop's own end-to-end tests. jdci runs them in a throwaway container of the PR's image on the preview's
network ([[checks.command]] in jdci.toml), where the app answers as http://app:8000."""
import json
import os
import unittest
import urllib.request

BASE = os.environ.get("SHOP_URL", "http://app:8000")


def get(path: str) -> tuple[int, str]:
    with urllib.request.urlopen(BASE + path, timeout=10) as response:
        return response.status, response.read().decode("utf-8")


class Pages(unittest.TestCase):
    def test_home_shows_the_offer(self) -> None:
        status, body = get("/")
        self.assertEqual(status, 200)
        self.assertIn("Today's offer", body)

    def test_checkout_can_pay(self) -> None:
        status, body = get("/checkout")
        self.assertEqual(status, 200)
        self.assertIn('id="pay"', body)

    def test_health_reports_every_backend(self) -> None:
        status, body = get("/healthz")
        self.assertEqual(status, 200)
        found = json.loads(body)
        self.assertEqual(found["status"], "ok")
        self.assertEqual({k: v for k, v in found.items() if k in ("redis", "postgres")},
                         {"redis": "ok", "postgres": "ok"})


if __name__ == "__main__":
    unittest.main()
