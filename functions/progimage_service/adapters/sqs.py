"""Send many messages to an SQS queue, ten per request, several requests at once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import ServiceUnavailable
from .aws import client, translated

BATCH = 10  # SQS's limit per SendMessageBatch
MAX_MESSAGE_BYTES = 256 * 1024


class Queue:
    def __init__(self, url: str, sqs: Any | None = None) -> None:
        self.url = url
        self.sqs = sqs or client("sqs")

    def send_all(self, bodies: Sequence[dict[str, Any]], parallel: int = 8) -> None:
        """Send every body as JSON; raise a retryable error if any could not be sent."""
        texts = [json.dumps(body, separators=(",", ":")) for body in bodies]
        batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
        with ThreadPoolExecutor(max(1, min(parallel, len(batches)))) as pool:
            list(pool.map(self._send_batch, batches))

    def _send_batch(self, texts: list[str]) -> None:
        entries = [{"Id": str(i), "MessageBody": text} for i, text in enumerate(texts)]
        for _ in range(3):  # the SDK retries whole requests; this retries failed entries
            with translated("queue"):
                response = self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
            failed = {f["Id"] for f in response.get("Failed", [])}
            entries = [entry for entry in entries if entry["Id"] in failed]
            if not entries:
                return
        raise ServiceUnavailable(f"the queue refused {len(entries)} messages; retry")
