"""A transformers model behind the small interface evaluation needs: chat, answer NLL, translate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from radis_core.config import SEPARATOR
from radis_core.generation import DecodeSettings, generate
from radis_core.prompts import ChatFormat, translation_prompt


class HFChatModel:
    """Implements ``radis_core.evaluation.probe_runs.ChatModel`` for a (peft or plain) HF model."""

    def __init__(
        self, model: Any, tokenizer: Any, *, batch_size: int = 16, on_batch: Callable[[int, int], None] | None = None
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.fmt = ChatFormat.for_tokenizer(tokenizer)
        self.batch_size = batch_size
        self.on_batch = on_batch
        self.generated_tokens = 0

    def chat(self, prompts: list[str], max_new_tokens: int) -> list[str]:
        """Greedy replies to single user turns."""
        texts = [self.fmt.user_prompt(p) for p in prompts]
        outs = generate(
            self.model,
            self.tokenizer,
            texts,
            DecodeSettings(max_new_tokens=max_new_tokens),
            batch_size=self.batch_size,
            end_of_turn=self.fmt.end_of_turn,
            on_batch=self.on_batch,
        )
        self.generated_tokens += sum(o.new_tokens for o in outs)
        return [o.text.strip() for o in outs]

    def translate(self, sources: Sequence[str], *, src_lang: str, tgt_lang: str, template: str, max_new_tokens: int) -> list[str]:
        """Translations only: decoding stops at the separator, so no rationale is generated at eval time."""
        texts = [translation_prompt(self.fmt, template, source=s, src_lang=src_lang, tgt_lang=tgt_lang) for s in sources]
        outs = generate(
            self.model,
            self.tokenizer,
            texts,
            DecodeSettings(max_new_tokens=max_new_tokens, stop=(SEPARATOR,)),
            batch_size=self.batch_size,
            end_of_turn=self.fmt.end_of_turn,
            on_batch=self.on_batch,
        )
        self.generated_tokens += sum(o.new_tokens for o in outs)
        return [o.text.strip() for o in outs]

    def answer_nll(self, prompts: list[str], answers: list[str]) -> list[float]:
        """Mean per-token negative log-likelihood of each answer as the reply to its prompt."""
        import torch

        device = next(self.model.parameters()).device
        out: list[float] = []
        was_training = self.model.training
        self.model.eval()
        try:
            for p, a in zip(prompts, answers, strict=True):
                prompt_ids = self.tokenizer(self.fmt.user_prompt(p), add_special_tokens=False)["input_ids"]
                answer_ids = self.tokenizer(a, add_special_tokens=False)["input_ids"]
                if not answer_ids:
                    out.append(float("nan"))
                    continue
                ids = torch.tensor([prompt_ids + answer_ids], device=device)
                with torch.inference_mode():
                    logits = self.model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].float()
                target = torch.tensor(answer_ids, device=device)
                out.append(float(torch.nn.functional.cross_entropy(logits, target)))
        finally:
            if was_training:
                self.model.train()
        return out
