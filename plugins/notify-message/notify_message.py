#!/usr/bin/env python3
"""notify-message: a loyali-hooks transform plugin (protocol: docs/plugins.md).

Adds the guide's notification text to the event's data:
  points.earned         "You just earned 150 points! 🎉"   (the event's real amount)
  tier.upgraded         "Congratulations! You're now Gold! ⭐"
  redemption.fulfilled  "Your reward is on its way! 📦"
Other event types pass through unchanged.
"""
import json
import sys

TEMPLATES = {
    "points.earned": "You just earned {amount} points! 🎉",
    "tier.upgraded": "Congratulations! You're now {tier}! ⭐",
    "redemption.fulfilled": "Your reward is on its way! 📦",
}


def amount_text(data):
    amount = data.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise ValueError(f"points.earned needs a numeric data.amount, got {json.dumps(amount)}")
    return f"{amount:,}"


def tier_text(data):
    tier = data.get("new_tier")
    name = tier.get("name") if isinstance(tier, dict) else tier
    if not isinstance(name, str) or not name:
        raise ValueError("tier.upgraded needs data.new_tier.name")
    return name


def notification(event_type, data, templates):
    template = templates.get(event_type)
    if template is None:
        return None
    values = {}
    if "{amount}" in template:
        values["amount"] = amount_text(data)
    if "{tier}" in template:
        values["tier"] = tier_text(data)
    if "{reward}" in template:
        reward = data.get("reward")
        values["reward"] = reward.get("name", "") if isinstance(reward, dict) else str(reward or "")
    return template.format(**values)


def main():
    field, templates = "notification", TEMPLATES
    out = sys.stdout
    for line in sys.stdin:
        message = json.loads(line)
        if message["type"] == "init":
            config = message["config"]
            field = config.get("field", field)
            templates = {**TEMPLATES, **config.get("templates", {})}
            out.write('{"type":"ready"}\n')
        else:
            event = message["event"]
            try:
                text = notification(event["event_type"], event["data"], templates)
            except (ValueError, KeyError) as problem:
                reply = {"id": message["id"], "error": str(problem)}
            else:
                if text is not None:
                    event["data"][field] = text
                reply = {"id": message["id"], "event": event}
            out.write(json.dumps(reply, ensure_ascii=False) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
