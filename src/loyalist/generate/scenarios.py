"""The three merchant presets: who the merchant is, what they sell, how their customers behave.

Everything the simulation needs to know about a merchant is a field of :class:`Merchant`; the
simulation code holds no scenario-specific numbers. Rates are per day, money is in the
merchant's currency, shares are fractions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class CategorySpec:
    """A product category: its price range, margin, popularity and how it is named."""

    name: str
    products: int  # how many products the catalogue holds in it
    median_price: float
    price_sigma: float  # log-normal spread of product prices around the median
    cost_ratio: float  # unit_cost / price, on average
    affinity: float  # base Dirichlet concentration: how popular the category is
    qty_cap: int  # usual maximum units of one product in one order
    overstocked: bool  # slow-moving: stock far above what sells
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]


@dataclass(frozen=True)
class PromotionSpec:
    """One promotion of the merchant's catalog (DESIGN.md, promotion catalog).

    ``categories`` empty = the whole assortment; ``eligible_segments`` empty = everyone.
    ``value`` means: percent off (percent_discount, bundle), currency off (fixed_voucher),
    percent off the second unit (bogo), shipping fee saved (free_shipping), points multiplier
    (points_multiplier), retail value of the free item (free_item).
    """

    name: str
    kind: str
    value: float
    contact_cost: float
    min_spend: float | None = None
    max_spend: float | None = None
    eligible_segments: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompetitorSpec:
    """A competitor event that recurs every year: ``start`` is ``"MM-DD"`` or
    ``"black_friday"``; it lasts ``days`` days."""

    competitor: str
    kind: str
    value: float
    start: str
    days: int


@dataclass(frozen=True)
class Merchant:
    """A merchant scenario: business parameters (go to ``meta``) and behaviour parameters."""

    key: str
    name: str
    business: str
    currency: str
    monthly_budget: float
    goal: str
    goal_text: str
    season: str
    default_customers: int
    country: str
    default_end: date
    planning_period_days: int
    response_window_days: int
    categories: tuple[CategorySpec, ...]
    catalog: tuple[PromotionSpec, ...]
    competitors: tuple[CompetitorSpec, ...]
    # --- customer behaviour (BG/NBD: lambda ~ Gamma(r, alpha) per day, p ~ Beta(a, b)) ----------
    r: float
    alpha: float
    a: float
    b: float
    max_rate: float  # purchases/day cap for the heaviest users
    # Gamma-Gamma spend per order: z ~ Gamma(gg_p, nu), nu ~ Gamma(gg_q, gg_gamma)
    gg_p: float
    gg_q: float
    gg_gamma: float
    lines_mean: float  # mean lines per order (1 + negative binomial)
    lines_dispersion: float  # negative-binomial size: smaller = heavier tail
    bulk_share: float  # share of lines bought in bulk (heavy-tailed quantity)
    prehistory_years: int  # customers sign up from this many years before the history
    guest_share: float  # share of lines without a customer id
    return_share: float  # share of lines that are returns
    # --- calendar -----------------------------------------------------------------------------
    monthly: tuple[float, ...]  # 12 seasonal multipliers, Jan..Dec
    weekday: tuple[float, ...]  # 7 multipliers, Mon..Sun
    hours: tuple[float, ...]  # 24 weights of the hour of day
    holiday_multiplier: float  # on public holidays of ``country``
    peaks: tuple[tuple[str, float], ...]  # named retail days (timeline.PEAK_DAYS) -> multiplier
    # --- where and how they buy -----------------------------------------------------------------
    channels: tuple[str, str]  # (usual, alternative)
    alt_channel_share: float  # mean share of orders through the alternative channel
    stores: tuple[str, ...]  # store ids; "web" for the online channel
    regions: tuple[tuple[str, float], ...]
    genders: tuple[tuple[str, float], ...]
    age_mean: float
    age_sd: float
    age_min: int
    age_max: int
    # --- promotions -----------------------------------------------------------------------------
    contact_channel: str
    campaign_every_days: int
    campaign_reach: float  # share of eligible customers a campaign contacts
    control_share: float
    saturation: float  # incremental purchases saturate at this many baseline purchases/window

    @property
    def category_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.categories)


_COLOURS = ("Black", "Navy", "Camel", "Olive", "Grey", "Cream", "Burgundy", "Charcoal", "Rust",
            "Ivory", "Forest", "Sand")

FASHION = Merchant(
    key="fashion", name="Northwind Apparel", business="fashion retailer (stores and web)",
    currency="USD", monthly_budget=5_000.0, goal="clear_inventory",
    goal_text="clear slow-moving inventory (outerwear and knitwear)", season="winter",
    default_customers=1_000, country="US", default_end=date(2026, 1, 1),
    planning_period_days=30, response_window_days=30,
    categories=(
        CategorySpec("outerwear", 40, 150.0, 0.40, 0.45, 0.8, 2, True, _COLOURS,
                     ("Parka", "Puffer Jacket", "Wool Coat", "Trench Coat", "Rain Jacket",
                      "Gilet")),
        CategorySpec("knitwear", 40, 65.0, 0.35, 0.42, 0.8, 3, True, _COLOURS,
                     ("Cashmere Jumper", "Cardigan", "Roll Neck", "Cable Knit", "Knit Vest")),
        CategorySpec("dresses", 50, 90.0, 0.45, 0.40, 1.2, 2, False, _COLOURS,
                     ("Midi Dress", "Wrap Dress", "Shirt Dress", "Slip Dress", "Maxi Dress")),
        CategorySpec("shoes", 45, 110.0, 0.40, 0.45, 1.0, 2, False, _COLOURS,
                     ("Ankle Boot", "Loafer", "Sneaker", "Chelsea Boot", "Ballet Flat")),
        CategorySpec("accessories", 60, 30.0, 0.60, 0.35, 1.0, 4, False, _COLOURS,
                     ("Scarf", "Beanie", "Belt", "Tote Bag", "Gloves", "Earrings")),
        CategorySpec("denim", 35, 80.0, 0.30, 0.42, 1.0, 3, False, _COLOURS,
                     ("Straight Jeans", "Skinny Jeans", "Denim Jacket", "Wide Leg Jeans")),
    ),
    catalog=(
        PromotionSpec("winter_clearance_30", "percent_discount", 30.0, 0.10,
                      categories=("outerwear", "knitwear")),
        PromotionSpec("knitwear_bogo_50", "bogo", 50.0, 0.10, categories=("knitwear",)),
        PromotionSpec("voucher_20_over_100", "fixed_voucher", 20.0, 0.10, min_spend=100.0),
        PromotionSpec("free_shipping", "free_shipping", 8.0, 0.05),
        PromotionSpec("double_points", "points_multiplier", 2.0, 0.05),
        PromotionSpec("free_scarf", "free_item", 25.0, 0.10, categories=("accessories",)),
    ),
    competitors=(
        CompetitorSpec("StyleHub", "percent_discount", 25.0, "12-26", 37),
        CompetitorSpec("UrbanThreads", "percent_discount", 30.0, "black_friday", 4),
    ),
    r=0.9, alpha=60.0, a=1.0, b=7.0, max_rate=0.5,
    gg_p=5.0, gg_q=4.0, gg_gamma=60.0, lines_mean=1.9, lines_dispersion=1.2, bulk_share=0.01,
    prehistory_years=2, guest_share=0.02, return_share=0.035,
    monthly=(0.85, 0.70, 0.85, 0.95, 1.00, 0.95, 0.90, 0.95, 1.00, 1.05, 1.25, 1.50),
    weekday=(0.85, 0.80, 0.85, 0.95, 1.10, 1.45, 1.00),
    hours=(0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3.0, 5.0, 6.5, 7.0, 7.0, 7.0,
           7.5, 7.5, 7.0, 6.0, 4.5, 3.5, 2.0, 1.0),
    holiday_multiplier=1.25,
    peaks=(("black_friday", 2.6), ("cyber_monday", 1.6), ("christmas_run", 1.35),
           ("christmas_day", 0.15), ("boxing_day", 1.8)),
    channels=("store", "web"), alt_channel_share=0.35, stores=("S01", "web"),
    regions=(("Northeast", 0.22), ("Midwest", 0.2), ("South", 0.34), ("West", 0.24)),
    genders=(("F", 0.68), ("M", 0.28), ("X", 0.04)),
    age_mean=38.0, age_sd=12.0, age_min=16, age_max=85,
    contact_channel="email", campaign_every_days=45, campaign_reach=0.5, control_share=0.2,
    saturation=2.0,
)

COFFEE = Merchant(
    key="coffee", name="Daybreak Coffee", business="coffee chain (6 stores and app)",
    currency="USD", monthly_budget=2_000.0, goal="visit_frequency",
    goal_text="raise visit frequency after the holidays", season="post_holiday",
    default_customers=500, country="US", default_end=date(2026, 1, 1),
    planning_period_days=30, response_window_days=14,
    categories=(
        CategorySpec("coffee", 14, 4.6, 0.22, 0.24, 3.0, 4, False,
                     ("Small", "Medium", "Large"),
                     ("Latte", "Cappuccino", "Flat White", "Americano", "Mocha", "Cold Brew")),
        CategorySpec("tea", 8, 3.8, 0.20, 0.20, 0.8, 3, False, ("Small", "Large"),
                     ("Chai Latte", "Matcha Latte", "Earl Grey", "Green Tea", "Mint Tea")),
        CategorySpec("pastry", 12, 3.6, 0.25, 0.40, 1.2, 4, False,
                     ("Butter", "Almond", "Chocolate", "Cinnamon"),
                     ("Croissant", "Muffin", "Scone", "Bun")),
        CategorySpec("sandwiches", 8, 8.5, 0.20, 0.50, 0.6, 2, False,
                     ("Ham", "Veggie", "Turkey", "Egg"), ("Panini", "Bagel", "Wrap")),
        CategorySpec("beans", 10, 16.0, 0.25, 0.55, 0.3, 2, False,
                     ("Colombia", "Ethiopia", "House", "Decaf", "Sumatra"),
                     ("Whole Bean 340g", "Ground 340g")),
        CategorySpec("merch", 10, 22.0, 0.50, 0.50, 0.15, 2, True,
                     ("Holiday", "Classic", "Travel", "Ceramic", "Enamel"), ("Mug", "Tumbler")),
    ),
    catalog=(
        PromotionSpec("double_stars_2w", "points_multiplier", 2.0, 0.01),
        PromotionSpec("pastry_bogo", "bogo", 100.0, 0.01, categories=("pastry",)),
        PromotionSpec("free_latte", "free_item", 4.6, 0.01, categories=("coffee",)),
        PromotionSpec("coffee_20_off", "percent_discount", 20.0, 0.01, categories=("coffee",)),
        PromotionSpec("voucher_2_over_8", "fixed_voucher", 2.0, 0.01, min_spend=8.0),
        PromotionSpec("breakfast_bundle_15", "bundle", 15.0, 0.01, categories=("pastry",)),
    ),
    competitors=(
        CompetitorSpec("Daily Grind", "percent_discount", 20.0, "01-05", 21),
        CompetitorSpec("BrewCo", "bogo", 100.0, "04-10", 14),
    ),
    r=1.2, alpha=7.5, a=0.8, b=30.0, max_rate=2.0,
    gg_p=9.0, gg_q=7.0, gg_gamma=5.0, lines_mean=1.6, lines_dispersion=2.0, bulk_share=0.02,
    prehistory_years=2, guest_share=0.025, return_share=0.0,
    monthly=(0.78, 0.88, 0.98, 1.00, 1.02, 1.00, 0.95, 0.95, 1.05, 1.08, 1.10, 1.20),
    weekday=(1.10, 1.10, 1.10, 1.10, 1.05, 0.80, 0.75),
    hours=(0, 0, 0, 0, 0, 0.5, 4.0, 11.0, 13.0, 9.0, 7.0, 6.0, 8.0, 7.0, 5.5, 5.5, 4.5, 3.5,
           2.0, 1.2, 0.6, 0, 0, 0),
    holiday_multiplier=0.7,
    peaks=(("christmas_run", 1.1), ("christmas_day", 0.25), ("new_years_day", 0.5)),
    channels=("store", "app"), alt_channel_share=0.15,
    stores=("S01", "S02", "S03", "S04", "S05", "S06"),
    regions=(("Downtown", 0.26), ("Riverside", 0.18), ("University", 0.16), ("Old Town", 0.14),
             ("Harbor", 0.14), ("Airport", 0.12)),
    genders=(("F", 0.52), ("M", 0.45), ("X", 0.03)),
    age_mean=34.0, age_sd=13.0, age_min=14, age_max=85,
    contact_channel="app", campaign_every_days=28, campaign_reach=0.5, control_share=0.2,
    saturation=8.0,
)

ELECTRONICS = Merchant(
    key="electronics", name="Voltio", business="electronics web store (web and app)",
    currency="USD", monthly_budget=10_000.0, goal="average_order_value",
    goal_text="raise average order value in the back-to-school season", season="back_to_school",
    default_customers=2_000, country="US", default_end=date(2026, 8, 1),
    planning_period_days=30, response_window_days=30,
    categories=(
        CategorySpec("laptops", 40, 800.0, 0.45, 0.88, 1.1, 1, False,
                     ("Air 13", "Pro 14", "Ultra 16", "Slim 15", "Flex 14", "Studio 16", "Edu 11",
                      "Gaming 17"), ("Laptop", "Notebook", "Chromebook", "2-in-1")),
        CategorySpec("phones", 30, 600.0, 0.50, 0.86, 1.1, 2, False,
                     ("Nova", "Pixelate", "Orbit", "Zen", "Pulse", "Astra", "Lumen"),
                     ("128GB", "256GB", "512GB", "Mini", "Max")),
        CategorySpec("audio", 45, 120.0, 0.80, 0.62, 1.0, 2, False,
                     ("Wireless", "Noise-Cancelling", "Sport", "Studio", "Kids", "Bass", "Travel",
                      "Pro", "Mini"),
                     ("Earbuds", "Headphones", "Speaker", "Soundbar", "Earphones")),
        CategorySpec("accessories", 80, 25.0, 0.70, 0.45, 1.6, 5, False,
                     ("USB-C", "Braided", "Magnetic", "Slim", "Rugged", "Fast", "Clear", "Leather",
                      "Travel", "Wireless"),
                     ("Cable", "Charger", "Case", "Screen Protector", "Power Bank", "Hub", "Mouse",
                      "Sleeve", "Stand", "Adapter")),
        CategorySpec("gaming", 40, 60.0, 1.00, 0.78, 0.9, 3, False,
                     ("Racing", "Adventure", "Shooter", "Puzzle", "Party", "Sports", "Console",
                      "Pro"), ("Game", "Controller", "Headset", "Bundle", "Gift Card")),
        CategorySpec("smart_home", 35, 70.0, 0.60, 0.65, 0.5, 4, True,
                     ("Smart", "Wi-Fi", "Mini", "Outdoor", "Indoor", "Video", "Zigbee"),
                     ("Plug", "Bulb", "Camera", "Doorbell", "Thermostat", "Hub", "Sensor")),
    ),
    catalog=(
        PromotionSpec("accessory_bundle_15", "bundle", 15.0, 0.05, categories=("accessories",)),
        PromotionSpec("voucher_50_over_500", "fixed_voucher", 50.0, 0.05, min_spend=500.0),
        PromotionSpec("free_shipping", "free_shipping", 15.0, 0.05),
        PromotionSpec("audio_20_off", "percent_discount", 20.0, 0.05, categories=("audio",)),
        PromotionSpec("triple_points", "points_multiplier", 3.0, 0.05),
        PromotionSpec("free_smart_plug", "free_item", 25.0, 0.10, categories=("smart_home",)),
    ),
    competitors=(
        CompetitorSpec("MegaTech", "percent_discount", 15.0, "07-25", 48),
        CompetitorSpec("GadgetHub", "percent_discount", 20.0, "black_friday", 4),
    ),
    r=0.7, alpha=100.0, a=0.9, b=3.5, max_rate=0.2,
    gg_p=2.2, gg_q=3.2, gg_gamma=330.0, lines_mean=1.5, lines_dispersion=0.8, bulk_share=0.01,
    prehistory_years=3, guest_share=0.015, return_share=0.02,
    monthly=(0.85, 0.75, 0.80, 0.80, 0.85, 0.90, 1.00, 1.45, 1.30, 0.95, 1.35, 1.50),
    weekday=(1.00, 0.95, 0.95, 1.00, 1.00, 1.00, 1.10),
    hours=(1.5, 0.9, 0.5, 0.3, 0.3, 0.4, 0.8, 1.5, 2.5, 3.5, 4.5, 5.0, 5.5, 5.5, 5.0, 5.0, 5.0,
           5.5, 6.0, 7.0, 8.0, 8.0, 6.0, 3.5),
    holiday_multiplier=1.1,
    peaks=(("black_friday", 3.0), ("cyber_monday", 2.6), ("christmas_run", 1.4),
           ("christmas_day", 0.4)),
    channels=("web", "app"), alt_channel_share=0.3, stores=("web",),
    regions=(("Northeast", 0.2), ("Midwest", 0.2), ("South", 0.36), ("West", 0.24)),
    genders=(("M", 0.62), ("F", 0.35), ("X", 0.03)),
    age_mean=33.0, age_sd=12.0, age_min=13, age_max=80,
    contact_channel="email", campaign_every_days=60, campaign_reach=0.5, control_share=0.2,
    saturation=1.5,
)

#: the three merchant presets, by name
SCENARIOS: dict[str, Merchant] = {m.key: m for m in (FASHION, COFFEE, ELECTRONICS)}
