"""Value formats The Things Stack uses on the wire: timestamps, durations, ULIDs, airtime."""

from datetime import UTC, datetime
import math
import secrets
import time

# Crockford's base32, the alphabet of ULIDs (the ids inside TTS correlation ids).
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(now_ns: int | None = None) -> str:
    """Return a ULID: 48 bits of milliseconds then 80 random bits, 26 characters."""
    millis = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    value = (millis << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def rfc3339(ns: int, digits: int = 9) -> str:
    """Format nanoseconds since the epoch as TTS does: UTC, `digits` fractional digits, `Z`.

    Server-side times carry nanoseconds; gateway times only microseconds (digits=6).
    """
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{fraction:09d}"[: len(stamp) + 1 + digits] + "Z"


def duration(ns: int) -> str:
    """Format a protobuf Duration the way its JSON mapping does ("0.082176s").

    The mapping uses 0, 3, 6 or 9 fractional digits, whichever is exact.
    """
    seconds, fraction = divmod(ns, 1_000_000_000)
    if fraction == 0:
        return f"{seconds}s"
    for digits, unit in ((3, 1_000_000), (6, 1_000)):
        if fraction % unit == 0:
            return f"{seconds}.{fraction // unit:0{digits}d}s"
    return f"{seconds}.{fraction:09d}s"


def lora_airtime_ns(
    frm_payload_size: int, spreading_factor: int, bandwidth: int = 125_000
) -> int:
    """Time on air of a LoRaWAN data uplink (Semtech AN1200.13), coding rate 4/5.

    The PHY payload is the FRMPayload plus 13 bytes of MAC framing (MHDR, FHDR
    without options, FPort, MIC); 8 preamble symbols and an explicit header,
    as LoRaWAN uses. Low data rate optimisation is on for SF11/12 at 125 kHz.
    """
    phy_payload = frm_payload_size + 13
    low_data_rate = 1 if spreading_factor >= 11 and bandwidth == 125_000 else 0
    symbol_s = (2**spreading_factor) / bandwidth
    numerator = 8 * phy_payload - 4 * spreading_factor + 28 + 16
    payload_symbols = 8 + max(
        math.ceil(numerator / (4 * (spreading_factor - 2 * low_data_rate))) * 5, 0
    )
    return round((8 + 4.25 + payload_symbols) * symbol_s * 1_000_000_000)
