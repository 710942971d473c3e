"""IP access control lists as Asterisk's `deny=` / `permit=` (main/acl.c).

Owns the rule values and their evaluation: rules are read in order and the last rule whose
network holds the address decides; an address no rule holds is allowed. Several ACLs
(manager.conf `acl=` names) must all allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Network = IPv4Network | IPv6Network


@dataclass(frozen=True, slots=True)
class AclRule:
    """`permit` or deny for every address in `network`."""

    permit: bool
    network: Network


@dataclass(frozen=True, slots=True)
class Acl:
    """An ordered list of rules; empty allows everything."""

    rules: tuple[AclRule, ...] = ()

    def allows(self, address: str) -> bool:
        """Whether `address` passes: the last matching rule wins, no match allows."""
        ip = _normalise(ip_address(address.split("%", 1)[0]))
        allowed = True
        for rule in self.rules:
            if rule.network.version == ip.version and ip in rule.network:
                allowed = rule.permit
        return allowed


DENY_ALL = Acl(
    rules=(
        AclRule(permit=False, network=IPv4Network("0.0.0.0/0")),
        AclRule(permit=False, network=IPv6Network("::/0")),
    )
)


def parse_rules(value: str, *, permit: bool) -> tuple[AclRule, ...]:
    """A `permit=` / `deny=` value: `addr[/mask]` items, comma-separated; `!` inverts one.

    The mask may be a prefix length or dotted (`255.255.255.0`). Raises ValueError.
    """
    rules = []
    for raw in value.split(","):
        item = raw.strip()
        sense = permit
        if item.startswith("!"):
            item, sense = item[1:].strip(), not permit
        if not item:
            raise ValueError(f"empty address in '{value}'")
        try:
            network = ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"'{item}' is not an address or address/mask") from None
        rules.append(AclRule(permit=sense, network=network))
    return tuple(rules)


def _normalise(ip: IPv4Address | IPv6Address) -> IPv4Address | IPv6Address:
    """An IPv4-mapped IPv6 peer (`::ffff:a.b.c.d`) is judged as its IPv4 address."""
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip
