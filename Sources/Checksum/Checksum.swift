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

public func fnv1a64(_ text: String) -> UInt64 { fnv1a64(bytes: text.utf8) }

public func fnv1a64<Bytes: Sequence>(bytes: Bytes, continuing h0: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 where Bytes.Element == UInt8 {
    var h = h0
    for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    return h
}

/// A fingerprint of what a configured path holds: the bytes of a file, or of a folder's `.csv` files (names
/// and contents, in name order) such as the Eaton–Kortum data folder. Equal contents at another path give
/// the same fingerprint; an edited file does not.
public func contentFingerprint(_ path: String) -> String {
    let fm = FileManager.default
    var isDir: ObjCBool = false
    guard fm.fileExists(atPath: path, isDirectory: &isDir) else { return "missing" }
    if !isDir.boolValue {
        guard let data = fm.contents(atPath: path) else { return "unreadable" }
        return "content fnv1a64:" + checksumHex(fnv1a64(bytes: data))
    }
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    let names = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".csv") }.sorted()
    for n in names {
        guard let data = fm.contents(atPath: path + "/" + n) else { continue }
        h = fnv1a64(bytes: Array(n.utf8) + [0], continuing: h)
        h = fnv1a64(bytes: data, continuing: h)
    }
    return "csv content fnv1a64:" + checksumHex(h)
}

public func checksumHex(_ h: UInt64) -> String { String(format: "%016llx", h) }

