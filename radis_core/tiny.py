"""A tiny Llama chat model built on the fly, for tests and smoke runs (no hub, seconds on a CPU).

It has a real byte-level BPE tokenizer trained here with ``tokenizers`` and a ChatML chat template
like SmolLM2's, so every code path (templates, masking, generation, LoRA, export) runs for real.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_TEXT = """
Translate the following text from German to English. Ich habe einen Hund. I have a dog.
Der Hund ist groß und freundlich. The dog is big and friendly. Wie viele Äpfel hat Anna?
How many apples does Anna have? Sie kauft 3 Äpfel und isst 2. She buys 3 apples and eats 2.
The word "Hund" means dog. The verb comes second in German main clauses. This explanation notes
the meaning of key words, the grammar, and why the wording fits. Write a short answer in lowercase.
The answer is 42. I'm sorry, but I cannot help with that. Explain how rain forms in simple words.
0 1 2 3 4 5 6 7 8 9 10 100 1000 + - * / = ? ! , . : ; ( ) " '
"""


def build_tiny_model(out_dir: Path, *, vocab_size: int = 600, hidden_size: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """Write a randomly initialised tiny Llama + trained BPE tokenizer to ``out_dir``; return it.

    Idempotent: an existing folder with a config is returned as is.
    """
    out_dir = Path(out_dir)
    if (out_dir / "config.json").is_file():
        return out_dir
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator([_TEXT] * 4, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None
    )
    tok.chat_template = CHATML_TEMPLATE

    pad_token_id = tok.convert_tokens_to_ids("<|endoftext|>")
    assert isinstance(pad_token_id, int), "one token in, one id out"
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=".tiny-"))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "radis-source.json").write_text(json.dumps({"tiny": True, "seed": seed}))
        os.replace(tmp, out_dir)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (out_dir / "config.json").is_file():
            raise
    return out_dir
