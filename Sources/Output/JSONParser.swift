import Foundation

extension JSON {
    /// Parse JSON text. Numbers are read with `Double(String)` (correctly rounded), so a number written by
    /// `rendered()` reads back bitwise (Foundation's JSONSerialization does not promise that). Integers
    /// without a fraction or exponent become `.integer` when they fit.
    public static func parse(_ text: String) throws -> JSON {
        var p = JSONTextParser(Array(text.utf8))
        p.skipSpace()
        let value = try p.value(depth: 0)
        p.skipSpace()
        guard p.atEnd else { throw JSONParseError(offset: p.offset, problem: "trailing characters") }
        return value
    }

    /// The field `key` of an object.
    public subscript(key: String) -> JSON? {
        guard case .object(let fields) = self else { return nil }
        return fields.first { $0.0 == key }?.1
    }

    public var double: Double? {
        switch self {
        case .number(let d): return d
        case .integer(let i): return Double(i)
        default: return nil
        }
    }
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var array: [JSON]? { if case .array(let a) = self { return a } else { return nil } }
    /// An array of numbers.
    public var doubles: [Double]? {
        guard let a = array else { return nil }
        let out = a.compactMap(\.double)
        return out.count == a.count ? out : nil
    }
}

public struct JSONParseError: Error, CustomStringConvertible {
    public let offset: Int
    public let problem: String
    public var description: String { "invalid JSON at byte \(offset): \(problem)" }
}

private struct JSONTextParser {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { offset >= bytes.count }
    mutating func skipSpace() { while offset < bytes.count, [9, 10, 13, 32].contains(bytes[offset]) { offset += 1 } }
    func fail(_ problem: String) -> JSONParseError { JSONParseError(offset: offset, problem: problem) }

    mutating func expect(_ literal: String) throws {
        let l = Array(literal.utf8)
        guard offset + l.count <= bytes.count, Array(bytes[offset..<(offset + l.count)]) == l else { throw fail("expected \(literal)") }
        offset += l.count
    }

    mutating func value(depth: Int) throws -> JSON {
        guard depth < 512 else { throw fail("nested too deeply") }
        guard !atEnd else { throw fail("unexpected end") }
        switch bytes[offset] {
        case UInt8(ascii: "{"):
            offset += 1
            var fields: [(String, JSON)] = []
            skipSpace()
            if !atEnd && bytes[offset] == UInt8(ascii: "}") { offset += 1; return .object(fields) }
            while true {
                skipSpace()
                guard case .string(let key) = try value(depth: depth + 1) else { throw fail("object key must be a string") }
                skipSpace()
                try expect(":")
                skipSpace()
                fields.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard !atEnd else { throw fail("unterminated object") }
                if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                try expect("}")
                return .object(fields)
            }
        case UInt8(ascii: "["):
            offset += 1
            var items: [JSON] = []
            skipSpace()
            if !atEnd && bytes[offset] == UInt8(ascii: "]") { offset += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard !atEnd else { throw fail("unterminated array") }
                if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                try expect("]")
                return .array(items)
            }
        case UInt8(ascii: "\""):
            offset += 1
            var out: [UInt8] = []
            while true {
                guard !atEnd else { throw fail("unterminated string") }
                let b = bytes[offset]; offset += 1
                if b == UInt8(ascii: "\"") { break }
                if b != UInt8(ascii: "\\") { out.append(b); continue }
                guard !atEnd else { throw fail("unterminated escape") }
                let e = bytes[offset]; offset += 1
                switch e {
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "u"):
                    guard offset + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(code) else { throw fail("bad \\u escape") }
                    offset += 4
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: out.append(e)
                }
            }
            return .string(String(decoding: out, as: UTF8.self))
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        default:
            let start = offset
            var integral = true
            while !atEnd, let c = Optional(bytes[offset]),
                  (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+")
                    || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { integral = false }
                offset += 1
            }
            let text = String(decoding: bytes[start..<offset], as: UTF8.self)
            if integral, let i = Int(text) { return .integer(i) }
            guard !text.isEmpty, let d = Double(text), d.isFinite else { throw fail("invalid value") }
            return .number(d)
        }
    }
}
