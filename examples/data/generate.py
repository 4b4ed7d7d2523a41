#!/usr/bin/env python3
"""Writes the example training tables next to this script, the same bytes on every run.

Both are synthetic: drawn from a seeded generator by the rules below, not taken from
any public data set.

- machines.csv (classification): the condition of a pump, "healthy", "worn" or "failing",
  from six sensor readings; `machine_id` is a text column that training ignores.
- energy.csv (regression): a building's electrical load in kW from the weather, the
  hour and the occupancy.

Run: python3 examples/data/generate.py
"""

import math
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machines(rng, n=300):
    # Per condition: mean and spread of each reading.
    profiles = {
        "healthy": dict(temperature_c=(55, 4), vibration_mm_s=(2.0, 0.6), pressure_kpa=(410, 15),
                        rpm=(1480, 25), current_a=(11.5, 0.8)),
        "worn": dict(temperature_c=(63, 5), vibration_mm_s=(4.2, 0.9), pressure_kpa=(395, 18),
                     rpm=(1460, 30), current_a=(12.6, 0.9)),
        "failing": dict(temperature_c=(72, 6), vibration_mm_s=(7.5, 1.5), pressure_kpa=(370, 25),
                        rpm=(1425, 40), current_a=(14.0, 1.2)),
    }
    columns = ["machine_id", "temperature_c", "vibration_mm_s", "pressure_kpa", "rpm",
               "current_a", "age_days", "condition"]
    lines = [",".join(columns)]
    conditions = ["healthy"] * 5 + ["worn"] * 3 + ["failing"] * 2
    for i in range(n):
        condition = rng.choice(conditions)
        p = profiles[condition]
        age = {"healthy": 200, "worn": 700, "failing": 1100}[condition]
        values = [
            f"pump-{i:04d}",
            f"{rng.gauss(*p['temperature_c']):.1f}",
            f"{max(0.1, rng.gauss(*p['vibration_mm_s'])):.2f}",
            f"{rng.gauss(*p['pressure_kpa']):.0f}",
            f"{rng.gauss(*p['rpm']):.0f}",
            f"{rng.gauss(*p['current_a']):.2f}",
            f"{max(1, int(rng.gauss(age, 250)))}",
            condition,
        ]
        lines.append(",".join(values))
    return "\n".join(lines) + "\n"


def energy(rng, n=300):
    columns = ["outdoor_temp_c", "humidity_pct", "hour", "occupancy", "floor_area_m2", "load_kw"]
    lines = [",".join(columns)]
    for _ in range(n):
        temp = rng.uniform(-10, 35)
        humidity = rng.uniform(20, 95)
        hour = rng.randrange(24)
        working = 8 <= hour < 18
        occupancy = rng.randrange(40, 200) if working else rng.randrange(0, 20)
        area = rng.choice([800, 1200, 2500])
        # Heating below 16 °C, cooling above 22 °C, people and floor area, some noise.
        hvac = 2.2 * max(0.0, 16 - temp) + 3.0 * max(0.0, temp - 22) * (1 + humidity / 100)
        load = 0.012 * area + 0.35 * occupancy + hvac + 4 * math.sin(math.pi * hour / 24)
        load += rng.gauss(0, 3)
        lines.append(f"{temp:.1f},{humidity:.0f},{hour},{occupancy},{area},{load:.2f}")
    return "\n".join(lines) + "\n"


def main():
    (HERE / "machines.csv").write_text(machines(random.Random(20261125)))
    (HERE / "energy.csv").write_text(energy(random.Random(11252026)))


if __name__ == "__main__":
    main()
