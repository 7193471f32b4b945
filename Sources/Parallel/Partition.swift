/// A deterministic partition of `count` work items (countries, grid blocks) into `parts` contiguous,
/// nearly equal blocks. Item order is preserved, so gathering rank blocks in rank order gives item order.
public struct Partition: Equatable, Sendable {
    public let count: Int
    public let parts: Int

    public init(count: Int, parts: Int) {
        precondition(count >= 0 && parts >= 1)
        self.count = count
        self.parts = parts
    }

    /// The items owned by `part`: the first `count % parts` parts get one extra item.
    public func range(of part: Int) -> Range<Int> {
        let base = count / parts, extra = count % parts
        let lower = part * base + min(part, extra)
        let upper = lower + base + (part < extra ? 1 : 0)
        return lower..<upper
    }

    /// The part that owns `item` (e.g. the rank group of a rank when ranks are partitioned into groups).
    public func part(of item: Int) -> Int {
        precondition(item >= 0 && item < count)
        return (0..<parts).first { range(of: $0).contains(item) }!
    }
}
