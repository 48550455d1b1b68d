# A small CSV: three numeric features and a price.
python - <<'PY'
import numpy as np
rng = np.random.default_rng(0)
area, rooms, age = rng.uniform(40, 200, 300), rng.integers(1, 7, 300), rng.uniform(0, 80, 300)
price = 3 * area + 20 * rooms - age + rng.normal(0, 15, 300)
rows = ["area,rooms,age,price"] + [f"{a:.1f},{r},{g:.0f},{p:.1f}"
                                   for a, r, g, p in zip(area, rooms, age, price)]
open("houses.csv", "w").write("\n".join(rows) + "\n")
PY

fastmlp train houses.csv --target price --hidden 32,32 --epochs 200 --standardize \
    --val-split 0.2 --out houses.safetensors
fastmlp info houses.safetensors
head -n 4 houses.csv | cut -d, -f1-3 > new.csv        # the price column is not needed
fastmlp predict houses.safetensors new.csv
fastmlp export houses.safetensors houses.onnx
