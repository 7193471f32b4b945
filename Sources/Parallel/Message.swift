import CMPI
import Foundation

/// A value that travels between ranks as a message: it writes its fields in order and reads them back in
/// the same order. Doubles travel as their bit patterns, so a round trip is exact (NaN payloads and signed
/// zeros included). This replaces hand-packed `[Double]` arrays with offsets: a type that adds a field
/// changes its own `pack`/`init(unpacking:)` pair and nothing else.
public protocol Packable {
    func pack(into message: inout MessageWriter)
    init(unpacking message: inout MessageReader) throws
}

/// Builds a message (little-endian bytes).
public struct MessageWriter {
    public private(set) var bytes: [UInt8] = []
    public init() {}

    public mutating func write(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func write(_ value: Double) { write(value.bitPattern) }
    public mutating func write(_ value: Int) { write(UInt64(bitPattern: Int64(value))) }
    public mutating func write(_ value: Int32) { write(Int(value)) }
    public mutating func write(_ value: Bool) { write(value ? 1 : 0) }
    public mutating func write(_ value: String) {
        let utf8 = Array(value.utf8)
        write(utf8.count)
        bytes.append(contentsOf: utf8)
    }
    public mutating func write(_ values: [Double]) {
        write(values.count)
        for v in values { write(v) }
    }
    public mutating func write(_ value: Double?) {
        write(value != nil)
        if let value { write(value) }
    }
    public mutating func write<T: Packable>(_ value: T) { value.pack(into: &self) }
    public mutating func write<T: Packable>(_ values: [T]) {
        write(values.count)
        for v in values { v.pack(into: &self) }
    }
    public mutating func write<T: Packable>(_ value: T?) {
        write(value != nil)
        if let value { value.pack(into: &self) }
    }
}

/// Reads a message written by `MessageWriter`, field by field. Reading past the end is an error, not a crash.
public struct MessageReader {
    private let bytes: [UInt8]
    private var offset = 0
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isAtEnd: Bool { offset == bytes.count }

    public mutating func read() throws -> UInt64 {
        guard bytes.count - offset >= 8 else { throw MessageError.truncated(needed: 8, size: bytes.count - offset) }
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[offset + k]) << (8 * UInt64(k)) }
        offset += 8
        return v
    }
    public mutating func read() throws -> Double { Double(bitPattern: try read()) }
    public mutating func read() throws -> Int { Int(Int64(bitPattern: try read())) }
    public mutating func read() throws -> Int32 {
        let v: Int = try read()
        guard let r = Int32(exactly: v) else { throw MessageError.invalid("Int32 out of range: \(v)") }
        return r
    }
    public mutating func read() throws -> Bool { (try read() as UInt64) != 0 }
    public mutating func read() throws -> String {
        let n: Int = try read()
        guard n >= 0, n <= bytes.count - offset else { throw MessageError.truncated(needed: n, size: bytes.count - offset) }
        defer { offset += n }
        return String(decoding: bytes[offset..<(offset + n)], as: UTF8.self)
    }
    public mutating func read() throws -> [Double] {
        let n: Int = try read()
        guard n >= 0, n <= (bytes.count - offset) / 8 else { throw MessageError.truncated(needed: n, size: (bytes.count - offset) / 8) }
        return try (0..<n).map { _ in try read() }
    }
    public mutating func read() throws -> Double? {
        try read() as Bool ? try read() as Double : nil
    }
    public mutating func read<T: Packable>() throws -> T { try T(unpacking: &self) }
    public mutating func read<T: Packable>() throws -> [T] {
        let n: Int = try read()
        // Every element takes at least one byte of what is left: a count beyond that is corrupt (and would
        // otherwise reserve memory for it).
        guard n >= 0, n <= bytes.count - offset else { throw MessageError.invalid("array count \(n)") }
        var out: [T] = []
        for _ in 0..<n { out.append(try T(unpacking: &self)) }
        return out
    }
    public mutating func read<T: Packable>() throws -> T? {
        try read() as Bool ? try T(unpacking: &self) : nil
    }
}

public enum MessageError: Error, CustomStringConvertible {
    case truncated(needed: Int, size: Int)
    case invalid(String)
    public var description: String {
        switch self {
        case let .truncated(needed, size): return "message truncated: needed \(needed) items, \(size) left"
        case let .invalid(what): return "message invalid: \(what)"
        }
    }
}

extension Packable {
    /// The message bytes of this value.
    public var packed: [UInt8] {
        var w = MessageWriter()
        pack(into: &w)
        return w.bytes
    }
    /// The value of a whole message (every byte must be read).
    public init(packed bytes: [UInt8]) throws {
        var r = MessageReader(bytes)
        self = try Self(unpacking: &r)
        guard r.isAtEnd else { throw MessageError.invalid("\(Self.self): trailing bytes") }
    }
}

extension Communicator {
    /// Broadcast raw bytes from `root` (length first).
    public func broadcast(bytes: inout [UInt8], root: Int = 0) throws {
        var count = [Int64(bytes.count)]
        try broadcast(&count, root: root)
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(count[0])) }
        try bytes.withUnsafeMutableBufferPointer { buf in
            try check(MPI_Bcast(buf.baseAddress, Int32(buf.count), MPI_BYTE, Int32(root), handle), "MPI_Bcast(bytes)")
        }
    }

    /// Broadcast a typed value from `root`: `value` is read on the root and returned on every rank.
    public func broadcast<T: Packable>(_ value: T?, root: Int = 0) throws -> T {
        var bytes = rank == root ? value.map { $0.packed } ?? [] : []
        precondition(rank != root || value != nil, "broadcast: the root must pass a value")
        try broadcast(bytes: &bytes, root: root)
        return try T(packed: bytes)
    }

    /// Gather every rank's typed items into one rank-ordered array on every rank (MPI_Allgatherv on bytes).
    public func allGather<T: Packable>(_ local: [T]) throws -> [T] {
        var w = MessageWriter()
        for item in local { item.pack(into: &w) }
        let mine = w.bytes
        var counts = [Int32](repeating: 0, count: size)
        var myCount = Int32(mine.count)
        try check(MPI_Allgather(&myCount, 1, MPI_INT, &counts, 1, MPI_INT, handle), "MPI_Allgather(count)")
        var displs = [Int32](repeating: 0, count: size)
        for r in 1..<max(size, 1) where r < size { displs[r] = displs[r - 1] + counts[r - 1] }
        var all = [UInt8](repeating: 0, count: Int(counts.reduce(0, +)))
        try mine.withUnsafeBufferPointer { src in
            try all.withUnsafeMutableBufferPointer { dst in
                try check(MPI_Allgatherv(src.baseAddress, myCount, MPI_BYTE, dst.baseAddress, counts, displs,
                                         MPI_BYTE, handle), "MPI_Allgatherv(bytes)")
            }
        }
        var r = MessageReader(all)
        var out: [T] = []
        while !r.isAtEnd { out.append(try T(unpacking: &r)) }
        return out
    }
}

extension String: Packable {
    public func pack(into message: inout MessageWriter) { message.write(self) }
    public init(unpacking message: inout MessageReader) throws { self = try message.read() }
}

extension Array: Packable where Element == Double {
    public func pack(into message: inout MessageWriter) { message.write(self) }
    public init(unpacking message: inout MessageReader) throws { self = try message.read() }
}
