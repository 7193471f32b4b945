/// Which rank computes which part of which country: the grid-block layout of a world evaluation.
///
/// The work is the sequence of (country, income state) rows in country order. Each rank gets a contiguous
/// piece of that sequence, so a rank holds whole countries and/or a block of income states of a country, and
/// the ranks holding a country (its group) are contiguous; the first is the country's lead, which reports
/// the country's aggregates. Ranks visit their split countries in increasing order (before their whole
/// ones), so the collectives of different countries' groups cannot wait on each other in a cycle.
public struct WorkLayout: Equatable, Sendable {
    /// A block of one country's income states.
    public struct Piece: Equatable, Sendable {
        public let country: Int
        public let shocks: Range<Int>
        public init(country: Int, shocks: Range<Int>) { self.country = country; self.shocks = shocks }

        /// This piece's rows of a `[variety][shock][asset]` array of its country, variety by variety.
        public func rows(of array: [Double], shockCount: Int, assets: Int) -> [Double] {
            let varieties = array.count / (shockCount * assets)
            return (0..<varieties).flatMap { j -> ArraySlice<Double> in
                let start = (j * shockCount + shocks.lowerBound) * assets
                return array[start..<(start + shocks.count * assets)]
            }
        }

        /// Put `rows` (as `rows(of:…)` gives them) back into their places of `array`.
        public func place(_ rows: ArraySlice<Double>, into array: inout [Double], shockCount: Int, assets: Int) {
            let varieties = array.count / (shockCount * assets), run = shocks.count * assets
            var from = rows.startIndex
            for j in 0..<varieties {
                let start = (j * shockCount + shocks.lowerBound) * assets
                array.replaceSubrange(start..<(start + run), with: rows[from..<(from + run)])
                from += run
            }
        }
    }

    public let countries: Int
    public let shocks: Int
    /// Pieces of every rank, in country order.
    public let pieces: [[Piece]]

    public var ranks: Int { pieces.count }

    public init(countries: Int, shocks: Int, pieces: [[Piece]]) {
        self.countries = countries; self.shocks = shocks; self.pieces = pieces
    }

    /// The ranks that hold a piece of `country` (contiguous).
    public func group(of country: Int) -> Range<Int> {
        let holders = (0..<ranks).filter { r in pieces[r].contains { $0.country == country } }
        return holders.first!..<(holders.last! + 1)
    }

    /// The rank that reports `country`: the first of its group.
    public func lead(of country: Int) -> Int { group(of: country).lowerBound }

    /// The countries `rank` leads, contiguous and in order (gathering them in rank order gives country order).
    public func led(by rank: Int) -> Range<Int> {
        let mine = pieces[rank].map(\.country).filter { lead(of: $0) == rank }
        guard let first = mine.first, let last = mine.last else {
            // An empty range at the right place keeps `lowerBound` meaningful for hyperslab writes.
            let before = (0..<rank).flatMap { pieces[$0].map(\.country) }.max().map { $0 + 1 } ?? 0
            return before..<before
        }
        return first..<(last + 1)
    }

    /// The most pieces any rank holds (each piece keeps a whole country's workspace arrays).
    public var maxPieces: Int { pieces.map(\.count).max() ?? 0 }

    /// Whether some country is split over more than one rank.
    public var hasBlocks: Bool { (0..<countries).contains { group(of: $0).count > 1 } }

    /// Load of every rank under per-country costs (a piece costs its share of its country's rows).
    public func loads(costs: [Double]) -> [Double] {
        pieces.map { $0.reduce(0) { $0 + costs[$1.country] * Double($1.shocks.count) / Double(shocks) } }
    }

    /// max load / mean load − 1 over the ranks (0 = perfect balance).
    public func imbalance(costs: [Double]) -> Double {
        let l = loads(costs: costs)
        let mean = l.reduce(0, +) / Double(l.count)
        return mean > 0 ? l.max()! / mean - 1 : 0
    }

    /// Whole countries only: contiguous blocks of countries with the smallest possible maximum load (a
    /// bottleneck search over the greedy packing; ties and order fixed, so every rank builds the same).
    public static func countries(costs: [Double], shocks: Int, ranks: Int) -> WorkLayout {
        let m = costs.count
        func pack(_ limit: Double) -> [[Int]] {
            var parts: [[Int]] = [[]]
            var load = 0.0
            for i in 0..<m {
                if !parts[parts.count - 1].isEmpty && load + costs[i] > limit {
                    parts.append([]); load = 0
                }
                parts[parts.count - 1].append(i)
                load += costs[i]
            }
            return parts
        }
        var lo = costs.max() ?? 0, hi = costs.reduce(0, +)
        for _ in 0..<100 where hi - lo > 1e-12 * hi {
            let mid = 0.5 * (lo + hi)
            if pack(mid).count <= ranks { hi = mid } else { lo = mid }
        }
        var parts = pack(hi)
        while parts.count < ranks { parts.append([]) }
        return WorkLayout(countries: m, shocks: shocks,
                          pieces: parts.map { $0.map { Piece(country: $0, shocks: 0..<shocks) } })
    }

    /// Grid blocks: the M·S rows cut into `ranks` contiguous pieces of nearly equal cost (each row costs its
    /// country's cost / S). Every rank gets at least one row when there are enough rows.
    public static func blocks(costs: [Double], shocks: Int, ranks: Int) -> WorkLayout {
        let m = costs.count, rows = m * shocks
        let total = costs.reduce(0, +)
        // Cumulative cost at the end of each row.
        var ends = [Double](repeating: 0, count: rows)
        var run = 0.0
        for k in 0..<rows { run += costs[k / shocks] / Double(shocks); ends[k] = run }
        // Cut r falls after the row whose end is nearest to r·total/ranks, kept strictly increasing.
        var cuts = [0]
        for r in 1..<ranks {
            let target = total * Double(r) / Double(ranks)
            var k = cuts.last!
            while k < rows && ends[k] - 0.5 * costs[k / shocks] / Double(shocks) < target { k += 1 }
            let remainingRanks = ranks - r
            k = max(k, min(cuts.last! + 1, rows))                    // at least one row each while rows last
            k = min(k, max(rows - remainingRanks, cuts.last!))       // leave a row for every later rank
            cuts.append(k)
        }
        cuts.append(rows)
        let pieces: [[Piece]] = (0..<ranks).map { r in
            var out: [Piece] = []
            var k = cuts[r]
            while k < cuts[r + 1] {
                let country = k / shocks
                let end = min(cuts[r + 1], (country + 1) * shocks)
                out.append(Piece(country: country, shocks: (k - country * shocks)..<(end - country * shocks)))
                k = end
            }
            return out
        }
        return WorkLayout(countries: m, shocks: shocks, pieces: pieces)
    }

    /// One line for the log, e.g. "rank 0: C1–C6, C7[s1–4]; rank 1: C7[s5–10], C8–C13".
    public func description(names: [String]) -> String {
        (0..<ranks).map { r in
            let parts = pieces[r].map { p in
                p.shocks.count == shocks ? names[p.country]
                    : "\(names[p.country])[s\(p.shocks.lowerBound + 1)–\(p.shocks.upperBound)]"
            }
            return "rank \(r): " + (parts.isEmpty ? "idle" : parts.joined(separator: ", "))
        }.joined(separator: "; ")
    }
}
