import Foundation

/// FNV-1a (64 bit) of the bytes of doubles (little-endian bit patterns) or of text: the checksums and the
/// configuration hash of a checkpoint (a change detector, not a cryptographic hash).
public func fnv1a64(_ values: [Double]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for v in values {
        var bits = v.bitPattern.littleEndian
        for _ in 0..<8 {
            h = (h ^ (bits & 0xff)) &* 0x0000_0100_0000_01b3
            bits >>= 8
        }
    }
    return h
}

public func fnv1a64(_ text: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    return h
}

public func checksumHex(_ h: UInt64) -> String { String(format: "%016llx", h) }

