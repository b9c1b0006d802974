"""Score COMET in a separate interpreter: ``<python-with-unbabel-comet> comet_runner.py`` (stdin → stdout).

This file is run by path with another environment's Python (unbabel-comet pins transformers < 5 and
numpy < 2, which the service's environment cannot hold), so it imports only the standard library and
``comet``. Protocol, one JSON document each way:

- stdin: ``{"checkpoint": "<.ckpt path>", "batch_size": 16, "gpus": 0, "samples": [{"src", "mt", "ref"}, …]}``
- stdout: ``{"system_score": float, "scores": [float per sample]}``; any failure exits non-zero with
  the reason on stderr.
"""

import importlib
import json
import sys


def main() -> int:
    """Read the request from stdin, score it with COMET, print the result as JSON."""
    request = json.load(sys.stdin)
    comet = importlib.import_module("comet")  # the other environment's package, absent from this one

    model = comet.load_from_checkpoint(request["checkpoint"])
    prediction = model.predict(
        request["samples"], batch_size=int(request["batch_size"]), gpus=int(request["gpus"]), progress_bar=False
    )
    json.dump({"system_score": float(prediction.system_score), "scores": [float(s) for s in prediction.scores]}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
