"""PyTorch peer of sr1's training step (a check and a benchmark peer, not part of sr1).

Builds the Qwen2/Llama decoder of an HF folder in plain torch from its config.json and
model.safetensors (read without the safetensors package), runs the masked token-mean
cross-entropy over a batch, backpropagates with torch autograd, applies one SGD or AdamW step
(torch.optim), and writes the updated weights as safetensors. With --bench-steps it times
forward + backward + AdamW instead.

Usage: python3 torch_train_step.py --model DIR --batch FILE.json --optimizer sgd|adamw --lr LR
           [--weight-decay WD] [--out FILE.safetensors] [--threads N] [--bench-steps K]
"""
import argparse, json, struct, time
import torch

DTYPE64 = False

def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, spec in header.items():
        if name == '__metadata__':
            continue
        assert spec['dtype'] == 'F32', f'{name}: only F32 is supported by this peer'
        start, end = spec['data_offsets']
        out[name] = torch.frombuffer(bytearray(data[start:end]), dtype=torch.float32).reshape(spec['shape'])
    return out

def write_safetensors(path, tensors):
    names = sorted(tensors)
    header, offset, blobs = {}, 0, []
    for name in names:
        t = tensors[name].detach().contiguous().to(torch.float64 if DTYPE64 else torch.float32)
        b = t.numpy().tobytes()
        header[name] = {'dtype': 'F64' if DTYPE64 else 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    text = json.dumps(header).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)

def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)

def forward(cfg, W, ids, mask):
    B, T = ids.shape
    H, nh, nkv = cfg['hidden_size'], cfg['num_attention_heads'], cfg['num_key_value_heads']
    hd = cfg.get('head_dim') or H // nh
    eps, theta = cfg['rms_norm_eps'], cfg.get('rope_theta', 10000.0)
    qwen = cfg['model_type'] == 'qwen2'
    dt = W['model.embed_tokens.weight'].dtype
    pos = torch.arange(T, dtype=dt)
    inv = 1.0 / theta ** (torch.arange(0, hd, 2, dtype=dt) / hd)
    ang = torch.outer(pos, inv)
    ang = torch.cat([ang, ang], -1)
    cos, sin = ang.cos()[None, None], ang.sin()[None, None]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    visible = causal[None, None] & (mask[:, None, None, :] == 1)
    h = W['model.embed_tokens.weight'][ids]
    for l in range(cfg['num_hidden_layers']):
        p = f'model.layers.{l}.'
        x = rms_norm(h, W[p + 'input_layernorm.weight'], eps)
        def lin(name, bias):
            y = x @ W[p + name + '.weight'].T
            return y + W[p + name + '.bias'] if bias else y
        bias = qwen or cfg.get('attention_bias', False)
        q = lin('self_attn.q_proj', bias).view(B, T, nh, hd).transpose(1, 2)
        k = lin('self_attn.k_proj', bias).view(B, T, nkv, hd).transpose(1, 2)
        v = lin('self_attn.v_proj', bias).view(B, T, nkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        s = (q @ k.transpose(-1, -2)) / hd ** 0.5
        s = s.masked_fill(~visible, -1e9)
        o = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, nh * hd) @ W[p + 'self_attn.o_proj.weight'].T
        h = h + o
        y = rms_norm(h, W[p + 'post_attention_layernorm.weight'], eps)
        g = y @ W[p + 'mlp.gate_proj.weight'].T
        u = y @ W[p + 'mlp.up_proj.weight'].T
        h = h + (torch.nn.functional.silu(g) * u) @ W[p + 'mlp.down_proj.weight'].T
    h = rms_norm(h, W['model.norm.weight'], eps)
    head = W['model.embed_tokens.weight'] if cfg.get('tie_word_embeddings', False) else W['lm_head.weight']
    return h @ head.T

def loss_of(cfg, W, ids, mask, loss_mask):
    logits = forward(cfg, W, ids[:, :-1], mask[:, :-1])
    logp = logits.log_softmax(-1).gather(-1, ids[:, 1:, None])[..., 0]
    m = loss_mask[:, 1:].to(logp.dtype)
    return -(logp * m).sum() / m.sum()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True)
    ap.add_argument('--batch', required=True)
    ap.add_argument('--optimizer', choices=['sgd', 'adamw'], default='adamw')
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--weight-decay', type=float, default=0.0)
    ap.add_argument('--out')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--bench-steps', type=int, default=0)
    ap.add_argument('--dtype', choices=['float32', 'float64'], default='float32')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(f'{a.model}/config.json'))
    dtype = torch.float64 if a.dtype == 'float64' else torch.float32
    W = {k: v.clone().to(dtype).requires_grad_(True) for k, v in read_safetensors(f'{a.model}/model.safetensors').items()}
    batch = json.load(open(a.batch))
    ids = torch.tensor(batch['tokens'], dtype=torch.long)
    mask = torch.tensor(batch['attention_mask'], dtype=torch.long)
    loss_mask = torch.tensor(batch['loss_mask'], dtype=torch.long)
    params = [W[k] for k in sorted(W)]
    opt = torch.optim.SGD(params, lr=a.lr) if a.optimizer == 'sgd' else torch.optim.AdamW(params, lr=a.lr, weight_decay=a.weight_decay)
    if a.bench_steps > 0:
        for _ in range(2):
            opt.zero_grad(); loss_of(cfg, W, ids, mask, loss_mask).backward(); opt.step()
        t = time.perf_counter()
        for _ in range(a.bench_steps):
            opt.zero_grad(); loss_of(cfg, W, ids, mask, loss_mask).backward(); opt.step()
        dt = time.perf_counter() - t
        print(json.dumps({'seconds_per_step': dt / a.bench_steps, 'tokens_per_second': ids.numel() * a.bench_steps / dt, 'torch': torch.__version__, 'threads': a.threads}))
        return
    opt.zero_grad()
    loss = loss_of(cfg, W, ids, mask, loss_mask)
    loss.backward()
    opt.step()
    global DTYPE64
    DTYPE64 = a.dtype == 'float64'
    write_safetensors(a.out, {k: v for k, v in W.items()})
    print(json.dumps({'loss': loss.item(), 'torch': torch.__version__}))

if __name__ == '__main__':
    main()
