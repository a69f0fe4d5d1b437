"""Which encoding a file that is not UTF-8 is read in: ours (``loyalist.ingest.text``:
Windows-1252 unless its words read as garbage there, then the encoding with the fewest
garbled words, charset-normalizer's coherence on a tie; and the one where the column names
are known words, when they are in no other) against charset-normalizer's own best guess
among the same encodings, on the same generated till exports.

Each export is asked twice: with an English (ASCII) header, where only the words decide,
and with the header a till in that language writes (``HEADERS``).

For each encoding, ``--files`` small CSV exports (20, 200 or 2,000 lines; 1 to all of a
handful of product names in that language, on 2% to 80% of the lines beside ASCII names)
are encoded and both detectors are asked; a guess is right when it decodes the bytes to the
text written. Reports the share right per encoding and the median and worst time per file.

    python benchmarks/bench_encodings.py [--files 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from pathlib import Path

import charset_normalizer

from loyalist.ingest.text import HEADER_SEARCH_LINES, LEGACY_ENCODINGS, encoding_of, non_ascii_words

NAMES = {
    "cp1252": ["Käse", "Brötchen", "Weißwurst", "Crème", "Café", "Thé", "Œuf", "Bière",
               "€ 3,50", "Mañana", "Jalapeño", "Açaí", "Smörgås", "Æble", "Ørred", "“quoted”",
               "10 – 20", "Ñandú", "Éclair", "São Paulo", "naïve", "Nº 5", "½ kg", "Café–Bar",
               "Nutella®", "Größe:XL"],
    "mac_roman": ["Käse", "Brötchen", "Weißwurst", "Crème", "Café", "Thé", "Bière", "Mañana",
                  "Açaí", "Smörgås", "naïve"],
    "cp850": ["Käse", "Brötchen", "Weißwurst", "Crème", "Café", "Thé", "Mañana", "Smörgås"],
    "cp1250": ["Żubrówka", "Łosoś", "Śledź", "Pączek", "Kiełbasa", "Chléb", "Šunka", "Čaj",
               "Řízek", "Pivo světlé", "Sajt", "Túró", "Brânză"],
    "cp1251": ["Хлеб", "Молоко", "Сыр", "Колбаса", "Чай", "Пиво", "Сигареты", "Кофе",
               "Ракия", "Хліб"],
    "cp866": ["Хлеб", "Молоко", "Сыр", "Колбаса", "Чай", "Пиво", "Сигареты", "Кофе"],
    "koi8_r": ["Хлеб", "Молоко", "Сыр", "Колбаса", "Чай", "Пиво", "Сигареты", "Кофе"],
    "cp1253": ["Ψωμί", "Γάλα", "Τυρί φέτα", "Καφές", "Ελαιόλαδο", "Μέλι"],
    "cp1254": ["Çay", "Şeker", "Ekmek", "Peynir", "Süt", "Gözleme", "Döner", "Iğdır"],
    "cp932": ["急須（常滑焼）", "ほうじ茶", "煎茶", "抹茶ラテ", "和菓子", "取引日時"],
    "gb18030": ["绿茶", "乌龙茶", "月饼", "普洱茶叶"],
    "big5": ["綠茶", "烏龍茶", "月餅"],
    "cp949": ["녹차", "보리차", "떡", "김치"],
}
_GERMAN = "Datum;Kunde;Artikel;Menge;Stückpreis"
_RUSSIAN = "Дата;Код клиента;Артикул;Кол-во;Цена"
#: the header a till in each encoding's language writes
HEADERS = {
    "cp1252": _GERMAN, "mac_roman": _GERMAN, "cp850": _GERMAN,
    "cp1250": "Datum;Zákazník;Kód zboží;Množství;Cena",
    "cp1251": _RUSSIAN, "cp866": _RUSSIAN, "koi8_r": _RUSSIAN,
    "cp1253": "Ημερομηνία;Κωδικός πελάτη;Κωδικός προϊόντος;Ποσότητα;Τιμή",
    "cp1254": "Tarih;Müşteri No;Ürün Kodu;Miktar;Birim Fiyatı",
    "cp932": "日付;顧客ID;商品コード;数量;単価",
    "gb18030": "日期;客户编号;商品编码;数量;单价",
    "big5": "日期;客戶編號;商品編號;數量;單價",
    "cp949": "주문일자;고객번호;상품코드;수량;단가",
}
ASCII = ["Milk", "Bread", "Coffee 250g", "Tea", "Water 1L", "iPhone 15", "McDonald's"]


def export(rng: random.Random, names: list[str]) -> str:
    chosen = rng.sample(names, min(rng.choice([1, 2, 3, len(names)]), len(names)))
    share = rng.choice([0.02, 0.2, 0.8])
    lines = [ENGLISH]
    for _ in range(rng.choice([20, 200, 2000])):
        name = rng.choice(chosen) if rng.random() < share else rng.choice(ASCII)
        lines.append(f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)};C{rng.randint(1, 500)};"
                     f"{name};{rng.randint(1, 4)};{rng.randint(1, 50)},99")
    return "\r\n".join(lines)


ENGLISH = "date;customer;product;qty;price"


def ours(b: bytes) -> str:
    return encoding_of(non_ascii_words(b), b.splitlines(keepends=True)[:HEADER_SEARCH_LINES])


def theirs(b: bytes) -> str | None:
    best = charset_normalizer.from_bytes(b, cp_isolation=list(LEGACY_ENCODINGS)).best()
    return best.encoding if best is not None else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    rows, times = [], {"ours": [], "charset-normalizer": []}
    cases = [(who, head) for head in ("english", "native") for who in ("ours",
                                                                         "charset-normalizer")]
    for enc, names in NAMES.items():
        right = dict.fromkeys(cases, 0)
        n = 0
        while n < args.files:
            english = export(rng, names)
            texts = {"english": english, "native": english.replace(ENGLISH, HEADERS[enc], 1)}
            try:
                data = {k: t.encode(enc) for k, t in texts.items()}
            except UnicodeEncodeError:
                continue
            if data["english"].isascii():
                continue
            n += 1
            for who, head in cases:
                detect = ours if who == "ours" else theirs
                t = time.perf_counter()
                got = detect(data[head])
                times[who].append(time.perf_counter() - t)
                right[who, head] += got is not None and data[head].decode(
                    got, errors="replace") == texts[head]
        rows.append({"encoding": enc, "files": n,
                     **{f"{who} ({head} header)": v / n for (who, head), v in right.items()}})
        print(f"{enc:10s} " + "   ".join(f"{who} {head} {v / n:6.1%}"
                                         for (who, head), v in right.items()), flush=True)
    for who, t in times.items():
        print(f"{who}: median {statistics.median(t) * 1e3:.2f} ms, worst {max(t) * 1e3:.1f} ms "
              "per file")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "encodings.json").write_text(json.dumps({
        "machine": platform.platform(), "files": args.files, "seed": args.seed, "rows": rows,
        "ms": {k: {"median": statistics.median(v) * 1e3, "max": max(v) * 1e3}
               for k, v in times.items()}}, indent=2))


if __name__ == "__main__":
    main()
