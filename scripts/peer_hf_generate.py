# Hugging Face transformers peer for whole-model decoding on the H200: greedy generate() of 256 new
# tokens (bf16, SDPA attention, HF's own static KV cache off: the library default) after prompts cut
# from the held-out documents, the same text the Java benchmark uses. Writes $OUT/hf-<model>.json.
# Usage: python3 peer_hf_generate.py <model dir> <heldout-docs.jsonl> <prompt length>...
import json, os, sys, time
import torch
from transformers import LlamaForCausalLM
from tokenizers import Tokenizer

model_dir, docs_path, lengths = sys.argv[1], sys.argv[2], [int(a) for a in sys.argv[3:]]
tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
text = "".join(json.loads(line)["text"] for line in open(docs_path))
ids_all = tok.encode(text).ids
model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16).to("cuda").eval()
res = {"model": os.path.basename(model_dir.rstrip("/")), "torch": torch.__version__, "rows": []}
for plen in lengths:
    ids = torch.tensor([ids_all[:plen]], device="cuda")
    with torch.no_grad():
        model.generate(ids, max_new_tokens=16, do_sample=False)  # warm-up
        torch.cuda.synchronize()
        t = time.time()
        out = model.generate(ids, max_new_tokens=256, min_new_tokens=256, do_sample=False)
        torch.cuda.synchronize()
        dt = time.time() - t
    n = out.shape[1] - plen
    row = {"prompt": plen, "new_tokens": int(n), "tok_s": round(n / dt, 1)}
    res["rows"].append(row)
    print("hf generate", res["model"], row, flush=True)
json.dump(res, open(os.path.join(os.environ.get("OUT", "/tmp/out"), "hf-" + res["model"] + ".json"), "w"), indent=1)
