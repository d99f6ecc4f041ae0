"""Write examples/house-prices.csv: a synthetic regression table with prices in the hundreds of thousands.

    price = 40,000 + 160 * sqft + 12,000 * bedrooms - 900 * age - 3,500 * distance_km
            + 60,000 * exp(-distance_km / 5) + noise,   noise ~ N(0, 20,000^2)

The formula is learnable (the noise caps R^2 at about 0.97) and the prices are large numbers, which
is what target standardization is for. Run it from the repository's folder:

    python examples/house_prices.py && dlcc train configs/house-prices.yaml
"""

import csv
import sys
from pathlib import Path

import numpy as np


def houses(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    sqft = rng.uniform(600, 3500, n).round()
    bedrooms = rng.integers(1, 6, n)
    age = rng.uniform(0, 80, n).round(1)
    distance = rng.uniform(0.5, 40, n).round(2)
    price = (40_000 + 160 * sqft + 12_000 * bedrooms - 900 * age - 3_500 * distance
             + 60_000 * np.exp(-distance / 5) + rng.normal(0, 20_000, n))
    return {"sqft": sqft, "bedrooms": bedrooms, "age": age, "distance_km": distance, "price": price.round(2)}


def write(path: Path, n: int = 1000, seed: int = 0) -> Path:
    columns = houses(n, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(zip(*(values.tolist() for values in columns.values())))
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "house-prices.csv"
    print(f"wrote {write(out)}")
