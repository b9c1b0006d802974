"""One router per resource: files, fine-tuning jobs, job results (adapter, report, rationales), models, operations."""
