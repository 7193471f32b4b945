// The MPI exchange of split countries: one sub-communicator per split country and the row exchange
// over it that the household and distribution steps call (`GridBlockExchange`).
import HATModel
import Parallel

extension WorldEvaluator {
    /// One sub-communicator per split country (collective over the whole communicator, in country order).
    func buildExchanges() throws {
        exchanges = [:]
        for i in 0..<world.count {
            let group = layout.group(of: i)
            guard group.count > 1 else { continue }
            let comm = try communicator.subgroup(group)
            if let comm {
                let blocks = group.map { r in layout.pieces[r].first { $0.country == i }!.shocks }
                exchanges[i] = CommunicatorBlocks(communicator: comm, blocks: blocks)
            }
        }
    }
}

/// The row exchange of one split country over its group's communicator (see `GridBlockExchange`).
final class CommunicatorBlocks: GridBlockExchange {
    let communicator: Communicator
    /// The income states of every member of the group, in rank order.
    let blocks: [Range<Int>]
    let ownedShocks: Range<Int>

    init(communicator: Communicator, blocks: [Range<Int>]) {
        self.communicator = communicator
        self.blocks = blocks
        ownedShocks = blocks[communicator.rank]
    }

    func shareRows(_ buffers: [UnsafeMutablePointer<Double>], rowLength: Int) throws {
        let ranges = blocks.map { ($0.lowerBound * rowLength)..<($0.upperBound * rowLength) }
        for buffer in buffers { try communicator.allGatherBlocks(buffer, blocks: ranges) }
    }

    /// Every member's key, gathered in rank order; the lexicographically smallest wins.
    func first(_ key: [Double]) throws -> [Double] {
        try communicator.allGather([key]).min { $0.lexicographicallyPrecedes($1) }!
    }

    /// Max over the group; NaN if any member's value is NaN. Non-negative doubles order like their bit
    /// patterns, so the maximum is an exact integer reduction.
    func maximum(_ value: Double) throws -> Double {
        let bits = value.isNaN ? Int64.max : Int64(bitPattern: abs(value).bitPattern)
        let out = try communicator.allReduce([bits])[0]
        return out == Int64.max ? .nan : Double(bitPattern: UInt64(out))
    }
}
