"""A fake Replicate API: create a prediction of a model, read it, cancel it (the HTTP API
of Replicate's public reference), with the output an image URL it serves itself."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from tests.service_server import Json, Recorded, ServiceServer

KEY = "r8_test_key_5b1f0c9a7e3d"


class ReplicateServer(ServiceServer):
    def __init__(self, key: str = KEY) -> None:
        self.key = key
        # How many reads a prediction stays running, and how it ends.
        self.polls_before_done = 2
        self.outcome = "succeeded"
        self.error: str | None = None
        self.output: Any = None  # None: the URL of the served image
        self.predictions: dict[str, dict[str, Any]] = {}
        self.canceled = threading.Event()
        self._reads: dict[str, int] = {}
        super().__init__(
            {
                ("POST", r"/v1/models/(?P<owner>[^/]+)/(?P<name>[^/]+)/predictions"): self.create,
                ("GET", r"/v1/predictions/(?P<id>[^/]+)"): self.get,
                ("POST", r"/v1/predictions/(?P<id>[^/]+)/cancel"): self.cancel,
            }
        )

    def _refused(self, recorded: Recorded) -> Json | None:
        if recorded.headers.get("authorization") == f"Bearer {self.key}":
            return None
        detail = "You did not pass a valid authentication token"
        return Json({"title": "Unauthenticated", "detail": detail, "status": 401}, 401)

    def create(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if refused := self._refused(recorded):
            return refused
        prediction_id = f"p{len(self.predictions) + 1}"
        prediction = {
            "id": prediction_id,
            "model": f"{match['owner']}/{match['name']}",
            "version": "hidden",
            "status": "starting",
            "input": recorded.json["input"],
            "output": None,
            "logs": "",
            "error": None,
            "metrics": {},
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "started_at": None,
            "completed_at": None,
            "urls": {
                "get": f"{self.url}/v1/predictions/{prediction_id}",
                "cancel": f"{self.url}/v1/predictions/{prediction_id}/cancel",
            },
        }
        self.predictions[prediction_id] = prediction
        self._reads[prediction_id] = 0
        return Json(prediction, 201)

    def get(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if refused := self._refused(recorded):
            return refused
        prediction = self.predictions.get(match["id"])
        if prediction is None:
            return Json({"detail": "Not found."}, 404)
        self._reads[match["id"]] += 1
        if prediction["status"] in ("starting", "processing"):
            if self._reads[match["id"]] < self.polls_before_done:
                prediction["status"] = "processing"
            else:
                prediction["status"] = self.outcome
                prediction["error"] = self.error
                if self.outcome == "succeeded":
                    prediction["output"] = self.file_url() if self.output is None else self.output
        return Json(prediction)

    def cancel(self, recorded: Recorded, match: re.Match[str]) -> Json:
        prediction = self.predictions[match["id"]]
        prediction["status"] = "canceled"
        self.canceled.set()
        return Json(prediction)
