"""Detection power and false-alarm rate of the spike test on synthetic streams with known truth.

    python benchmarks/bench_hotspots.py [--seeds 100]

Each seed: 20 stationary reasons over 10 weeks (30–200 contacts a day, weekly pattern), plus
spikes of +40 %, +80 % and +200 % on three reasons on the last day. Power: the share of
seeds in which each spike is flagged. False alarms: flags on the 30 stationary days before the
last, over all 20 reasons (600 tests a seed), with the shipped hotspot settings.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta

from pipeline.config import CostSettings, EffortSettings, load_config
from pipeline.hotspots import find_hotspots
from pipeline.simulate import synthetic_reasons, synthetic_stream

AS_OF = date(2026, 3, 31)
SPIKES = {4: 1.4, 11: 1.8, 17: 3.0}  # reason index -> multiplier on the last day
STATIONARY_DAYS = 30


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    settings = load_config().hotspots
    reasons = synthetic_reasons()
    detected = {reason: 0 for reason in SPIKES}
    false_alarms = tests = 0
    started = time.perf_counter()
    for seed in range(args.seeds):
        stream = synthetic_stream(seed, AS_OF, spikes=SPIKES)
        flagged = find_hotspots(stream, AS_OF, reasons, settings, EffortSettings(), CostSettings())
        flagged = set(flagged.loc[flagged["spike"], "reason"])
        for reason in SPIKES:
            detected[reason] += f"r{reason:02d}" in flagged
        false_alarms += len(flagged - {f"r{r:02d}" for r in SPIKES})
        for back in range(1, STATIONARY_DAYS + 1):
            day = find_hotspots(stream, AS_OF - timedelta(days=back), reasons, settings, EffortSettings(), CostSettings())
            false_alarms += int(day["spike"].sum())
            tests += len(day)
        tests += len(reasons) - len(SPIKES)
    print(f"seeds: {args.seeds}; settings: alpha {settings.alpha} (BH), min count {settings.min_count}, "
          f"min change {settings.min_relative_change:.0%}; {time.perf_counter() - started:.0f} s")
    for reason, multiplier in SPIKES.items():
        print(f"power at +{multiplier - 1:.0%} (reason r{reason:02d}): {detected[reason] / args.seeds:.3f}")
    print(f"false alarms: {false_alarms} in {tests} stationary reason-days = {false_alarms / tests:.5f} "
          f"({false_alarms / args.seeds:.2f} per seed of {STATIONARY_DAYS} days x 20 reasons)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
