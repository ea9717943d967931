#!/usr/bin/env python3
"""Write N realistic Loyali input events as JSON lines, for benchmarks.

    bench/gen-events.py N > events.jsonl

Output is deterministic (fixed seed), cycles through all 15 catalogued event types in the guide's
order, gives every event a unique `id` and `created_at`, and keeps lines around 250-400 bytes so
throughput numbers reflect realistic payloads rather than toy ones.
"""
import json
import random
import sys
import unicodedata
from datetime import datetime, timedelta, timezone

TYPES = [
    "customer.created", "customer.updated",
    "points.earned", "points.redeemed", "points.expired", "points.adjusted",
    "tier.upgraded", "tier.downgraded",
    "redemption.created", "redemption.pending", "redemption.approved", "redemption.fulfilled",
    "redemption.rejected", "redemption.cancelled",
    "achievement.earned",
]
TIERS = [("Bronze", "tier_bronze"), ("Silver", "tier_silver"), ("Gold", "tier_gold"),
         ("Platinum", "tier_platinum")]
FIRST = ["Alex", "Zoë", "Sakura", "José", "Priya", "Liam", "Amara", "Chen", "Olivia", "Mateo",
         "Fatima", "Noah", "Ingrid", "Kwame", "Léa", "Yusuf"]
LAST = ["Rivera", "Müller", "Watanabe", "Ñúñez", "Sharma", "O'Brien", "Okafor", "Wei", "Smith",
        "García", "Haddad", "Johnson", "Larsen", "Mensah", "Dubois", "Demir"]
REWARDS = [("$25 Gift Card", "digital"), ("$10 Store Credit", "digital"),
           ("Free drip coffee ☕", "digital"), ("Insulated Water Bottle", "physical"),
           ("Canvas Tote Bag", "physical"), ("Weekend Getaway 🏖️", "physical")]
EARN_REASONS = ["Purchase - Order #{n}", "Birthday bonus 🎂", "Referral - friend joined",
                "Review: \"Great service\"", "Double points weekend - Order #{n}"]
ACHIEVEMENTS = [("ach_first_purchase", "First Purchase", "Completed your first purchase"),
                ("ach_ten_orders", "Regular", "Placed ten orders"),
                ("ach_first_review", "Critic", "Wrote your first product review"),
                ("ach_gold_member", "Going for Gold ⭐", "Reached the Gold tier")]
CARRIERS = ["UPS", "DHL", "FedEx", "USPS"]


def customer(rng):
    i = rng.randrange(5000)
    first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
    # Emails stay ASCII, as most real ones are: strip accents rather than drop the letter.
    local = unicodedata.normalize("NFKD", first.lower()).encode("ascii", "ignore").decode()
    email = f"{local}.{i}@example.com"
    return f"cust_{i:06d}", f"{first} {last}", email


def reward(rng):
    title, kind = rng.choice(REWARDS)
    return {"title": title, "type": kind, "reward_id": f"rwd_{rng.randrange(1, 60):04d}"}


def data_for(event_type, rng, n):
    cid, name, email = customer(rng)
    balance = rng.randrange(0, 60000)
    amount = rng.choice([10, 25, 40, 50, 75, 100, 150, 200, 250, 500, 1000])
    tier = rng.randrange(len(TIERS))
    order = 10000 + n
    red = f"red_{n:08x}"
    group, action = event_type.split(".")
    if group == "customer":
        d = {"customer_id": cid, "email": email, "name": name,
             "tier": {"name": TIERS[tier][0], "id": TIERS[tier][1]}, "points_balance": balance,
             "phone": f"+1-555-{rng.randrange(10000):04d}", "marketing_opt_in": rng.random() < 0.6}
        if action == "updated":
            d["changed_fields"] = rng.sample(["name", "email", "phone", "marketing_opt_in"], 2)
        return d
    if group == "points":
        d = {"customer_id": cid, "customer_email": email}
        if action == "earned":
            d.update(amount=amount, new_balance=balance + amount,
                     reason=rng.choice(EARN_REASONS).format(n=order),
                     order={"id": f"ord_{order}", "total": round(amount / 10 + rng.randrange(100) / 100, 2), "currency": "USD"})
        elif action == "redeemed":
            d.update(amount=amount * 10, new_balance=balance, redemption_id=red,
                     reason=f"Redeemed: {reward(rng)['title']}")
        elif action == "expired":
            d.update(amount=amount, new_balance=balance, expired_at="2024-12-31T23:59:59Z",
                     reason="No activity for 12 months", policy="points_expire_after_12_months")
        else:
            d.update(amount=rng.choice([-1, 1]) * amount, new_balance=balance,
                     reason=f"Correction - Order #{order}", adjusted_by="support@example.com",
                     ticket=f"SUP-{rng.randrange(100000):05d}")
        return d
    if group == "tier":
        up = action == "upgraded"
        new = min(tier + 1, 3) if up else max(tier - 1, 0)
        if new == tier:
            tier = new - 1 if up else new + 1
        return {"customer_id": cid, "customer_email": email, "customer_name": name,
                "previous_tier": {"name": TIERS[tier][0], "id": TIERS[tier][1]},
                "new_tier": {"name": TIERS[new][0], "id": TIERS[new][1]},
                "points_balance": balance}
    if group == "redemption":
        status = "pending" if action == "created" else action
        d = {"redemption_id": red, "customer_id": cid, "customer_email": email,
             "reward": reward(rng), "points_spent": amount * 10, "status": status}
        if action == "approved":
            d["approved_by"] = "support@example.com"
        elif action == "fulfilled":
            if d["reward"]["type"] == "digital":
                code = "-".join("".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
                                        for _ in range(4)) for _ in range(4))
                d["gift_card"] = {"code": f"LOYL-{code}"}
            else:
                d["tracking"] = {"carrier": rng.choice(CARRIERS),
                                 "number": f"1Z{rng.randrange(10**15):015d}"}
        elif action == "rejected":
            d["reason"] = rng.choice(["Reward out of stock", "Insufficient balance",
                                      "Shipping address could not be verified"])
        elif action == "cancelled":
            d["points_refunded"] = amount * 10
            d["new_balance"] = balance + amount * 10
        return d
    ach = rng.choice(ACHIEVEMENTS)
    return {"customer_id": cid, "customer_email": email,
            "achievement": {"id": ach[0], "name": ach[1], "description": ach[2]},
            "points_awarded": rng.choice([0, 50, 100])}


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: gen-events.py N > events.jsonl")
    count = int(sys.argv[1])
    rng = random.Random(20240120)
    t = datetime(2024, 1, 20, 14, 30, tzinfo=timezone.utc)
    out = sys.stdout
    for n in range(count):
        event_type = TYPES[n % len(TYPES)]
        t += timedelta(milliseconds=rng.randrange(1, 5000))
        event = {
            "id": f"evt_{n:012x}",
            "event_type": event_type,
            "created_at": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z",
            "data": data_for(event_type, rng, n),
        }
        out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")


if __name__ == "__main__":
    main()
