import Foundation

/// A minimal JSON value with ordered object keys. Doubles are written in Swift's shortest round-trip
/// form, so a value read back is bitwise the value written; non-finite numbers become null.
public indirect enum JSON: Equatable {
    case number(Double)
    case integer(Int)
    case string(String)
    case bool(Bool)
    case array([JSON])
    case object([(String, JSON)])
    case null

    public static func == (a: JSON, b: JSON) -> Bool { a.rendered() == b.rendered() }

    public static func numbers(_ v: [Double]) -> JSON { .array(v.map { .number($0) }) }

    /// The same value without any field or array element that holds a non-finite number (which would be
    /// written as null): what cannot be computed is left out, never written as a result.
    public func droppingNonFinite() -> JSON? {
        switch self {
        case .number(let d): return d.isFinite ? self : nil
        case .array(let items):
            let kept = items.compactMap { $0.droppingNonFinite() }
            return kept.count == items.count ? .array(kept) : nil
        case .object(let fields):
            return .object(fields.compactMap { name, value in value.droppingNonFinite().map { (name, $0) } })
        default: return self
        }
    }

    public static func matrix(_ m: [[Double]]) -> JSON { .array(m.map { numbers($0) }) }

    public func rendered(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent), inner = String(repeating: "  ", count: indent + 1)
        switch self {
        case .number(let d): return d.isFinite ? "\(d)" : "null"
        case .integer(let i): return "\(i)"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .string(let s): return JSON.quote(s)
        case .array(let items):
            if items.allSatisfy({ if case .array = $0 { return false }; if case .object = $0 { return false }; return true }) {
                return "[" + items.map { $0.rendered() }.joined(separator: ", ") + "]"
            }
            return "[\n" + items.map { inner + $0.rendered(indent: indent + 1) }.joined(separator: ",\n") + "\n\(pad)]"
        case .object(let fields):
            if fields.isEmpty { return "{}" }
            return "{\n" + fields.map { "\(inner)\(JSON.quote($0.0)): \($0.1.rendered(indent: indent + 1))" }
                .joined(separator: ",\n") + "\n\(pad)}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if ch.value < 0x20 { out += String(format: "\\u%04x", ch.value) } else { out.unicodeScalars.append(ch) }
            }
        }
        return out + "\""
    }
}
