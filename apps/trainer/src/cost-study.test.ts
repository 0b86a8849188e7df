// The cost study's verdict: the three checks of issue #17's goal (EM held within 0.02, ≥ 30 % fewer
// searches, most searches on unseen facts), computed from the two trained agents' held-out summaries.

import type { EvalSummary } from '@sr1/eval';
import { describe, expect, it } from 'vitest';
import { compareCostStudy, formatCostStudy } from './cost-study.js';

/** A held-out summary of 48 known and 48 unseen questions: right answers and searches per kind. */
function summary(
  known: { right: number; searches: number },
  unseen: { right: number; searches: number },
): EvalSummary {
  const cell = (k: { right: number; searches: number }) => ({
    count: 48,
    exactMatch: k.right / 48,
    searchesPerQuestion: k.searches / 48,
  });
  return {
    method: 'agent',
    count: 96,
    exactMatch: (known.right + unseen.right) / 96,
    searchesPerQuestion: (known.searches + unseen.searches) / 96,
    byType: { known: cell(known), unseen: cell(unseen) },
  };
}

describe('compareCostStudy', () => {
  it('holds EM at a loss of exactly 0.02 and fails it one question beyond', () => {
    const noCost = summary({ right: 48, searches: 48 }, { right: 32, searches: 48 });
    // 0.833 → 0.8125: a loss of 2/96 = 0.0208, just over the 0.02 allowed.
    const twoFewer = compareCostStudy(
      noCost,
      summary({ right: 48, searches: 0 }, { right: 30, searches: 44 }),
    );
    expect(twoFewer.emDelta).toBeCloseTo(-2 / 96, 12);
    expect(twoFewer.emHeld).toBe(false);
    expect(twoFewer.searchCut).toBeCloseTo(1 - 44 / 96, 12);
    expect(twoFewer.searchesCut).toBe(true);
    expect(twoFewer.unseenShare).toBe(1);
    expect(twoFewer.met).toBe(false);

    const base = summary({ right: 40, searches: 48 }, { right: 40, searches: 48 }); // EM 0.8333…
    const exact = compareCostStudy(
      { ...base, exactMatch: 0.85 },
      { ...summary({ right: 48, searches: 0 }, { right: 32, searches: 48 }), exactMatch: 0.83 },
    );
    expect(exact.emHeld).toBe(true);
    expect(exact.met).toBe(true);
  });

  it('needs 30 % fewer searches, most of them on unseen facts', () => {
    const noCost = summary({ right: 48, searches: 48 }, { right: 32, searches: 48 });
    const fewCut = compareCostStudy(
      noCost,
      summary({ right: 48, searches: 24 }, { right: 32, searches: 48 }),
    );
    expect(fewCut.searchCut).toBeCloseTo(0.25, 12);
    expect(fewCut.searchesCut).toBe(false);
    const onKnown = compareCostStudy(
      noCost,
      summary({ right: 48, searches: 30 }, { right: 32, searches: 20 }),
    );
    expect(onKnown.searchesCut).toBe(true);
    expect(onKnown.unseenShare).toBeCloseTo(0.4, 12);
    expect(onKnown.mainlyUnseen).toBe(false);
    expect(onKnown.met).toBe(false);
    // A run without a cost that never searched leaves nothing to cut.
    const none = compareCostStudy(summary({ right: 48, searches: 0 }, { right: 0, searches: 0 }), noCost);
    expect(none.searchCut).toBe(0);
  });

  it('prints one row per agent and each check with its verdict', () => {
    const noCost = summary({ right: 48, searches: 45 }, { right: 32, searches: 48 });
    const withCost = summary({ right: 48, searches: 0 }, { right: 32, searches: 48 });
    const text = formatCostStudy(noCost, withCost, { kind: 'otc', c: 1 }, compareCostStudy(noCost, withCost));
    expect(text).toContain('| no cost | 1.000 | 0.667 | 0.833 | 0.94 | 1.00 | 0.97 |');
    expect(text).toContain('| otc c 1 | 1.000 | 0.667 | 0.833 | 0.00 | 1.00 | 0.50 |');
    expect(text).toContain('EM with the cost − without: +0.000 (goal: ≥ −0.02): met');
    expect(text).toContain('searches per question: 48 % fewer (goal: ≥ 30 %): met');
    expect(text).toContain('share of the searches spent on unseen facts: 100 % (goal: most): met');
    expect(text).toMatch(/goal: met$/);
  });
});
