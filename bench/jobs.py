"""A 1,000-image job through the local server, beside the same work in a sequential Pillow loop.

    .venv/bin/python -m bench.jobs [--images 1000] [--concurrency 4]

The job goes the whole way a deployed one does, on this machine: POST /jobs, the items fanned
out through SQS (moto) to the job worker's real handler, which the local server's pollers call
with up to --concurrency batches at once; each item renders a stored image's variant and writes
it to S3. The peer is what a user would write without the service: one loop, one process,
Image.open → thumbnail → save, for the same images and sizes. Prints images per second and the
time to the last result for both.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import requests
from PIL import Image

from localserver import LocalServer

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT.parent / "shared" / "testdata" / "exif-orientation" / "Landscape_1.jpg"


def sources(count: int) -> list[bytes]:
    """A few distinct photo-sized JPEGs (1800x1200) to spread the items over."""
    base = Image.open(PHOTO).convert("RGB")
    out = []
    for shift in range(count):
        buffer = io.BytesIO()
        base.rotate(shift * 3).save(buffer, "JPEG", quality=88)
        out.append(buffer.getvalue())
    return out


def items_for(ids: list[str], total: int) -> list[dict]:
    # Distinct sizes, so every item renders (none is a cache hit).
    return [
        {"source": {"id": ids[i % len(ids)]}, "ops": f"thumbnail:{96 + i % 400}", "format": "webp"}
        for i in range(total)
    ]


def run_job(server: LocalServer, images: list[bytes], total: int) -> tuple[float, int]:
    api = server.url
    ids = [
        requests.post(
            f"{api}/images", data=data, headers={"Content-Type": "image/jpeg"}, timeout=60
        ).json()["id"]
        for data in images
    ]
    started = time.perf_counter()
    job_id = requests.post(
        f"{api}/jobs", json={"items": items_for(ids, total)}, timeout=120
    ).json()["job_id"]
    while True:
        job = requests.get(f"{api}/jobs/{job_id}", params={"limit": 1}, timeout=60).json()
        if job["status"] == "done":
            return time.perf_counter() - started, job["succeeded"]
        time.sleep(0.2)


def run_loop(images: list[bytes], total: int) -> float:
    started = time.perf_counter()
    for i in range(total):
        image = Image.open(io.BytesIO(images[i % len(images)]))
        side = 96 + i % 400
        image.thumbnail((side, side))
        image.save(io.BytesIO(), "WEBP", quality=80)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="items in the job")
    parser.add_argument("--sources", type=int, default=8, help="distinct stored photos")
    parser.add_argument("--concurrency", type=int, default=4, help="worker batches at once")
    args = parser.parse_args()
    images = sources(args.sources)
    with LocalServer(ROOT / "template.yaml", sqs_concurrency=args.concurrency) as server:
        job_seconds, succeeded = run_job(server, images, args.images)
    loop_seconds = run_loop(images, args.images)
    print("| path | images | time to last result | images/s |")
    print("|---|--:|--:|--:|")
    print(
        f"| job via local server ({args.concurrency} worker batches) | {succeeded} | "
        f"{job_seconds:.1f} s | {succeeded / job_seconds:.1f} |"
    )
    print(
        f"| sequential Pillow loop | {args.images} | {loop_seconds:.1f} s | "
        f"{args.images / loop_seconds:.1f} |"
    )
    print(f"ratio (loop time / job time): {loop_seconds / job_seconds:.2f}")


if __name__ == "__main__":
    main()
