"""Merges the GPU kit's part files into one results.json and prints a summary (apps/bench/gpu).

Usage: python3 merge.py PARTS_DIR ENV_JSON OUT_JSON
MFU = the step's FLOPs (flopsPerStep / flops_per_step, 6·N·tokens + causal attention) / seconds /
the GPU's dense bf16/fp16 peak, taken from its name (None where the name is not known).
"""
import json, os, sys

# Dense (no sparsity) bf16/fp16 tensor-core peaks from NVIDIA's data sheets, FLOP/s.
PEAKS = [('H200', 989.4e12), ('H100 PCIe', 756.0e12), ('H100 NVL', 835.0e12), ('H100', 989.4e12), ('A100', 312.0e12)]


def peak_of(name):
    for key, value in PEAKS:
        if name and key in name:
            return value
    return None


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return {'error': 'no output: the part did not start or was killed before it wrote anything'}
    except json.JSONDecodeError as e:
        return {'error': f'unreadable output: {e}'}


def main():
    parts_dir, env_path, out_path = sys.argv[1:4]
    env = load(env_path)
    results = {'kit': 'apps/bench/gpu', 'env': env, 'parts': {}}
    for name in ['env', 'parity', 'train-step', 'engine-speed', 'torch-speed']:
        results['parts'][name] = load(os.path.join(parts_dir, f'{name}.json'))
        status = os.path.join(parts_dir, f'{name}.status')
        if os.path.exists(status):
            results['parts'][name]['exit'] = open(status).read().strip()
    results['speed_precision'] = load(os.path.join(parts_dir, 'precision.json')).get('speedPrecision')
    peak = peak_of(env.get('gpu'))
    results['peak_flops'] = peak
    summary = []
    eng, tor = results['parts']['engine-speed'], results['parts']['torch-speed']
    for label, part, tok, flops in [('sr1', eng, 'tokensPerSecond', 'flopsPerStep'), ('torch', tor, 'tokens_per_second', 'flops_per_step')]:
        train = part.get('train') or {}
        if peak and train.get(flops) and train.get('seconds'):
            train['mfu'] = train[flops] / train['seconds'] / peak
        summary.append((f'{label} train tok/s', train.get(tok)))
        summary.append((f'{label} train MFU', train.get('mfu')))
    summary.insert(0, ('speed parts precision', results['speed_precision']))
    summary.insert(1, ('sr1 prefill tok/s', (eng.get('prefill') or {}).get('tokensPerSecond')))
    summary.insert(2, ('torch prefill tok/s', (tor.get('prefill') or {}).get('tokens_per_second')))
    for key, value in eng.items():
        if key.startswith('decode-batch-') and isinstance(value, dict):
            summary.append((f'sr1 decode b{value.get("batch")} tok/s', value.get('tokensPerSecond')))
    for value in tor.get('decode') or []:
        summary.append((f'torch decode b{value.get("batch")} tok/s', value.get('tokens_per_second')))
    par = results['parts']['parity']
    for p in ['float32', 'float16', 'bfloat16']:
        if isinstance(par.get(p), dict):
            summary.append((f'parity {p} max|Δ logprob|', par[p].get('maxAbsDiff', par[p].get('skipped') or par[p].get('error'))))
    step = results['parts']['train-step']
    for o in ['sgd', 'adamw']:
        r = step.get(o) or {}
        summary.append((f'{o}: device vs CPU engine', (r.get('deviceVsCpuEngine') or {}).get('maxRelativeWeightError')))
        t = r.get('deviceVsTorchSameDevice') or {}
        summary.append((f'{o}: device vs torch', t.get('maxRelativeWeightError', t.get('error'))))
    results['summary'] = {k: v for k, v in summary}
    with open(out_path, 'w') as f:
        json.dump(results, f, indent=1)
    print('---- summary (full detail in results.json) ----')
    for k, v in summary:
        text = f'{v:.4g}' if isinstance(v, float) else str(v)
        print(f'{k:36s} {text[:200]}')


if __name__ == '__main__':
    main()
