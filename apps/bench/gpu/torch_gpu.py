"""PyTorch peer of the GPU kit (apps/bench/gpu): a check and benchmark peer, not part of sr1.

Two commands:
  step   one SGD or AdamW step of torch_train_step.py's plain-torch decoder on --device (cpu|cuda),
         writing the updated weights as safetensors (TF32 off: a float32 reference).
  bench  plain PyTorch on --device with random weights in a Qwen2 config: prefill tokens/s
         (batch 1), decode tokens/s (greedy, static KV cache, SDPA) at the given batches, and one
         training step (forward, backward, AdamW; float32 master weights under bf16/fp16
         autocast) over batch x length tokens. Eager mode, no torch.compile, no CUDA graphs.

Usage: python3 torch_gpu.py step --model DIR --batch FILE --optimizer sgd|adamw --lr LR
           [--weight-decay WD] --out FILE --device cuda
       python3 torch_gpu.py bench --sizes full|tiny --device cuda --dtype bfloat16 --out FILE.json
Prints one JSON line last (the step) or writes --out after every measurement (the bench).
"""
import argparse, json, math, os, statistics, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'peers'))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# Qwen2.5-0.5B / 3B shapes, from their config.json on the Hugging Face hub.
CONFIGS = {
    'qwen2.5-0.5b': dict(vocab=151936, hidden=896, inter=4864, layers=24, heads=14, kv=2, head_dim=64, theta=1e6, eps=1e-6, tied=True),
    'qwen2.5-3b': dict(vocab=151936, hidden=2048, inter=11008, layers=36, heads=16, kv=2, head_dim=128, theta=1e6, eps=1e-6, tied=True),
    'tiny': dict(vocab=512, hidden=64, inter=176, layers=2, heads=4, kv=2, head_dim=16, theta=1e6, eps=1e-6, tied=True),
}
SIZES = {
    'full': dict(prefill=1024, decode_batches=[1, 64], decode_prompt=16, decode_steps=64, train_batch=16, train_len=1024, repeats=3),
    'tiny': dict(prefill=32, decode_batches=[1, 4], decode_prompt=8, decode_steps=4, train_batch=2, train_len=32, repeats=2),
}


def sync(dev):
    if dev.type == 'cuda':
        torch.cuda.synchronize()


def cmd_step(a):
    import torch_train_step as P
    dev = torch.device(a.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cfg = json.load(open(f'{a.model}/config.json'))
    host = P.read_safetensors(f'{a.model}/model.safetensors')
    if dev.type == 'cuda':
        torch.set_default_device(dev)  # torch_train_step's forward builds positions/masks on the default device
    W = {k: v.to(dev).clone().requires_grad_(True) for k, v in host.items()}
    batch = json.load(open(a.batch))
    ids = torch.tensor(batch['tokens'], dtype=torch.long, device=dev)
    mask = torch.tensor(batch['attention_mask'], dtype=torch.long, device=dev)
    loss_mask = torch.tensor(batch['loss_mask'], dtype=torch.long, device=dev)
    params = [W[k] for k in sorted(W)]
    if a.optimizer == 'sgd':
        opt = torch.optim.SGD(params, lr=a.lr)
    else:
        opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=a.weight_decay)
    opt.zero_grad()
    loss = P.loss_of(cfg, W, ids, mask, loss_mask)
    loss.backward()
    opt.step()
    P.write_safetensors(a.out, {k: v.detach().cpu() for k, v in W.items()})
    print(json.dumps({'loss': loss.item(), 'torch': torch.__version__, 'device': str(dev)}))


# ---- bench: a plain Qwen2 with SDPA and a static KV cache -------------------------------------------


def param_count(c):
    H, I, L, hd = c['hidden'], c['inter'], c['layers'], c['head_dim']
    q, kv = c['heads'] * hd, c['kv'] * hd
    per_layer = H * q + q + 2 * (H * kv + kv) + q * H + 3 * H * I + 2 * H
    return c['vocab'] * H * (1 if c['tied'] else 2) + L * per_layer + H


def train_flops_per_token(c, T):
    """6 x parameters (the tied embedding counted once, as the LM head's MatMul) + causal attention."""
    attention = 6 * c['layers'] * c['heads'] * c['head_dim'] * T  # 12·L·h·d·T, halved by the causal mask
    return 6 * param_count(c) + attention


def make_weights(c, dev, dtype, requires_grad=False, std=0.02):
    g = torch.Generator(device=dev).manual_seed(1)
    H, I, hd = c['hidden'], c['inter'], c['head_dim']
    q, kv = c['heads'] * hd, c['kv'] * hd

    def w(*shape, fill=None):
        if fill is not None:
            t = torch.full(shape, fill, device=dev, dtype=dtype)
        else:
            t = (torch.randn(*shape, generator=g, device=dev, dtype=torch.float32) * std).to(dtype)
        return t.requires_grad_(requires_grad)

    W = {'embed': w(c['vocab'], H), 'norm': w(H, fill=1.0), 'layers': []}
    for _ in range(c['layers']):
        W['layers'].append(dict(
            ln1=w(H, fill=1.0), ln2=w(H, fill=1.0),
            wq=w(q, H), bq=w(q, fill=0.0), wk=w(kv, H), bk=w(kv, fill=0.0), wv=w(kv, H), bv=w(kv, fill=0.0),
            wo=w(H, q), gate=w(I, H), up=w(I, H), down=w(H, I)))
    return W


def all_params(W):
    out = [W['embed'], W['norm']]
    for layer in W['layers']:
        out.extend(layer.values())
    return out


def rope_tables(c, length, dev):
    hd = c['head_dim']
    inv = 1.0 / c['theta'] ** (torch.arange(0, hd, 2, device=dev, dtype=torch.float32) / hd)
    ang = torch.outer(torch.arange(length, device=dev, dtype=torch.float32), inv)
    ang = torch.cat([ang, ang], -1)
    return ang.cos(), ang.sin()


def rms(x, w, eps):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * w


def rot(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def sdpa(q, k, v, causal):
    nh, nkv = q.shape[1], k.shape[1]
    if nh != nkv:
        try:
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
        except TypeError:  # torch < 2.5
            k = k.repeat_interleave(nh // nkv, dim=1)
            v = v.repeat_interleave(nh // nkv, dim=1)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def forward(c, W, ids, cos, sin, start=0, cache=None):
    """Logits of ids (B, T) at positions start..start+T; with `cache` ((L, B, kv, S, hd) keys and values) it writes the new
    entries into the static cache and attends over cache[:start+T]."""
    B, T = ids.shape
    nh, nkv, hd, eps = c['heads'], c['kv'], c['head_dim'], c['eps']
    h = W['embed'][ids]
    cs, sn = cos[start:start + T][None, None].to(h.dtype), sin[start:start + T][None, None].to(h.dtype)
    for l, p in enumerate(W['layers']):
        x = rms(h, p['ln1'], eps)
        q = (x @ p['wq'].T + p['bq']).view(B, T, nh, hd).transpose(1, 2)
        k = (x @ p['wk'].T + p['bk']).view(B, T, nkv, hd).transpose(1, 2)
        v = (x @ p['wv'].T + p['bv']).view(B, T, nkv, hd).transpose(1, 2)
        q = q * cs + rot(q) * sn
        k = k * cs + rot(k) * sn
        if cache is not None:
            keys, values = cache
            keys[l, :, :, start:start + T] = k
            values[l, :, :, start:start + T] = v
            k, v = keys[l, :, :, :start + T], values[l, :, :, :start + T]
        o = sdpa(q, k, v, causal=T > 1).transpose(1, 2).reshape(B, T, nh * hd)
        h = h + o @ p['wo'].T
        y = rms(h, p['ln2'], eps)
        h = h + (F.silu(y @ p['gate'].T) * (y @ p['up'].T)) @ p['down'].T
    return rms(h, W['norm'], eps) @ W['embed'].T


def timed(dev, fn, repeats):
    times = []
    for _ in range(repeats):
        sync(dev)
        t = time.perf_counter()
        fn()
        sync(dev)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cmd_bench(a):
    dev = torch.device(a.device)
    c = CONFIGS[a.config]
    s = SIZES[a.sizes]
    dtype = {'bfloat16': torch.bfloat16, 'float16': torch.float16, 'float32': torch.float32}[a.dtype]
    result = {'torch': torch.__version__, 'device': str(dev), 'config': a.config, 'dtype': a.dtype,
              'parameters': param_count(c), 'sizes': s,
              'gpu': torch.cuda.get_device_name(0) if dev.type == 'cuda' else None,
              'peer': 'plain PyTorch, eager, F.scaled_dot_product_attention, static (preallocated) KV cache'}

    def save():
        with open(a.out, 'w') as f:
            json.dump(result, f, indent=1)

    save()
    deadline = time.perf_counter() + a.budget_s
    torch.manual_seed(0)
    with torch.inference_mode():
        W = make_weights(c, dev, dtype)
        maxlen = max(s['prefill'], s['decode_prompt'] + s['decode_steps']) + 1
        cos, sin = rope_tables(c, maxlen, dev)
        # prefill: batch 1, no cache kept (the logits of the whole prompt)
        ids = torch.randint(0, c['vocab'], (1, s['prefill']), device=dev)
        forward(c, W, ids, cos, sin)  # warm-up
        sec = timed(dev, lambda: forward(c, W, ids, cos, sin), s['repeats'])
        result['prefill'] = {'batch': 1, 'tokens': s['prefill'], 'seconds': sec, 'tokens_per_second': s['prefill'] / sec}
        save()
        result['decode'] = []
        for B in s['decode_batches']:
            if time.perf_counter() > deadline:
                result['decode'].append({'batch': B, 'skipped': 'time budget spent'})
                continue
            shape = (c['layers'], B, c['kv'], maxlen, c['head_dim'])
            cache = (torch.zeros(shape, device=dev, dtype=dtype), torch.zeros(shape, device=dev, dtype=dtype))
            prompt = torch.randint(0, c['vocab'], (B, s['decode_prompt']), device=dev)

            def run():
                logits = forward(c, W, prompt, cos, sin, 0, cache)
                tok = logits[:, -1:].argmax(-1)
                sync(dev)
                t = time.perf_counter()
                for i in range(s['decode_steps']):
                    logits = forward(c, W, tok, cos, sin, s['decode_prompt'] + i, cache)
                    tok = logits[:, -1:].argmax(-1)
                sync(dev)
                return time.perf_counter() - t

            run()  # warm-up
            sec = statistics.median(run() for _ in range(s['repeats']))
            result['decode'].append({'batch': B, 'prompt': s['decode_prompt'], 'steps': s['decode_steps'], 'seconds': sec,
                                     'tokens_per_second': B * s['decode_steps'] / sec})
            save()
            del cache
        del W
    if dev.type == 'cuda':
        torch.cuda.empty_cache()
    if time.perf_counter() > deadline:
        result['train'] = {'skipped': 'time budget spent'}
        save()
        return
    # one training step: float32 master weights, autocast to `dtype`, SDPA causal, token-mean CE, AdamW
    B, T = s['train_batch'], s['train_len']
    W = make_weights(c, dev, torch.float32, requires_grad=True)
    params = all_params(W)
    opt = torch.optim.AdamW(params, lr=1e-5, fused=dev.type == 'cuda')
    cos, sin = rope_tables(c, T, dev)
    ids = torch.randint(0, c['vocab'], (B, T), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=dev.type, dtype=dtype, enabled=dtype != torch.float32):
            logits = forward(c, W, ids[:, :-1], cos, sin)
        loss = F.cross_entropy(logits.float().reshape(-1, c['vocab']), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()

    try:
        step()  # warm-up
        sec = timed(dev, step, s['repeats'])
        result['train'] = {'batch': B, 'length': T, 'seconds': sec, 'tokens_per_second': B * T / sec,
                           'flops_per_step': train_flops_per_token(c, T) * B * T,
                           'flops_formula': '6 x parameters (LM head counted, embedding lookup not) x tokens + 6·L·heads·head_dim·T per token (causal attention)',
                           'precision': f'float32 master weights, autocast {a.dtype}',
                           'peak_memory_bytes': torch.cuda.max_memory_allocated() if dev.type == 'cuda' else None}
    except torch.OutOfMemoryError as e:  # noqa
        result['train'] = {'batch': B, 'length': T, 'error': f'out of memory: {str(e)[:300]}'}
    save()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    st = sub.add_parser('step')
    st.add_argument('--model', required=True)
    st.add_argument('--batch', required=True)
    st.add_argument('--optimizer', choices=['sgd', 'adamw'], default='adamw')
    st.add_argument('--lr', type=float, default=1e-3)
    st.add_argument('--weight-decay', type=float, default=0.0)
    st.add_argument('--out', required=True)
    st.add_argument('--device', default='cpu')
    be = sub.add_parser('bench')
    be.add_argument('--config', choices=sorted(CONFIGS), default='qwen2.5-0.5b')
    be.add_argument('--sizes', choices=sorted(SIZES), default='full')
    be.add_argument('--device', default='cuda')
    be.add_argument('--dtype', choices=['bfloat16', 'float16', 'float32'], default='bfloat16')
    be.add_argument('--budget-s', type=float, default=120)
    be.add_argument('--out', required=True)
    a = ap.parse_args()
    if a.cmd == 'step':
        cmd_step(a)
    else:
        cmd_bench(a)


if __name__ == '__main__':
    main()
