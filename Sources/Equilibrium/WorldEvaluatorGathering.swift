// Gathering: one country's solved arrays assembled on every rank from the rows of the ranks that hold it.
import HATModel
import Parallel

extension WorldEvaluator {
    /// Country `i`'s solved arrays, assembled on every rank from the rows of the ranks that hold it
    /// (collective over the communicator); nil when the country has no stored solution.
    public func gatherCountry(_ i: Int) throws -> CountryArrays? {
        let na = model.assetPoints, nS = income.count, nJ = world.count, nAll = na * nS * nJ
        let holders = layout.pieces.map { $0.first { $0.country == i } }
        var mine: [CountryRows] = []
        if let piece = holders[communicator.rank], let hh = households[i], let dist = distributions[i] {
            let own = { (array: [Double]) in piece.rows(of: array, shockCount: nS, assets: na) }
            mine.append(CountryRows(solved: hh.hasSolution && dist.hasSolution,
                                    consumption: own(hh.consumption), values: own(hh.values),
                                    assetPolicy: own(hh.assetPolicy),
                                    choiceProbabilities: own(hh.choiceProbabilities),
                                    masses: layout.lead(of: i) == communicator.rank ? dist.masses : nil))
        }
        // One part from each holder, in rank order; each array is assembled from the holders' rows.
        let gathered = try communicator.allGather(mine)
        let pieces = holders.compactMap { $0 }
        precondition(gathered.count == pieces.count, "gatherCountry: a holder of country \(i) sent no rows")
        var parts = [[Double]](repeating: [Double](repeating: 0, count: nAll), count: 4)
        var masses: [Double] = []
        var solved = true
        for (piece, part) in zip(pieces, gathered) {
            solved = solved && part.solved
            let arrays = [part.consumption, part.values, part.assetPolicy, part.choiceProbabilities]
            for k in 0..<4 { piece.place(arrays[k][...], into: &parts[k], shockCount: nS, assets: na) }
            if let lead = part.masses { masses = lead }
        }
        let arrays = CountryArrays(consumption: parts[0], values: parts[1], assetPolicy: parts[2],
                                   choiceProbabilities: parts[3], masses: masses)
        return solved ? arrays : nil
    }
}

/// One country's solved household and distribution arrays, whole (`[variety][shock][asset]`, λ `[shock][asset]`).
public struct CountryArrays: Sendable {
    public var consumption: [Double], values: [Double], assetPolicy: [Double], choiceProbabilities: [Double]
    public var masses: [Double]
}

/// One holder's part of a country in `gatherCountry`: whether its solution is stored, its rows of c, v, a′
/// and π (`WorkLayout.Piece.rows`), and λ from the country's lead rank.
struct CountryRows {
    var solved: Bool
    var consumption: [Double], values: [Double], assetPolicy: [Double], choiceProbabilities: [Double]
    var masses: [Double]?
}

extension CountryRows: Packable {
    func pack(into m: inout MessageWriter) {
        m.write(solved)
        m.write(consumption); m.write(values); m.write(assetPolicy); m.write(choiceProbabilities)
        m.write(masses)
    }
    init(unpacking m: inout MessageReader) throws {
        self.init(solved: try m.read(), consumption: try m.read(), values: try m.read(),
                  assetPolicy: try m.read(), choiceProbabilities: try m.read(), masses: try m.read())
    }
}
