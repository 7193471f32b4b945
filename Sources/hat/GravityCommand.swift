import ArgumentParser
import Foundation
import Runs
import Gravity
import Output

struct GravityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gravity",
        abstract: "Run the Eaton–Kortum gravity regression on the data and print the moments.",
        discussion: """
        OLS of log(X_ij/X_ii) on importer and exporter fixed effects, six distance bins, border, shared language,
        European Community and EFTA (HAT-SPEC §5.2), then the EK normalisation into S, theta_m, distance and
        dummy coefficients, with standard errors, R² and SSR.
        """)

    @Option(help: "The Eaton–Kortum data folder (ek-data.csv, ek-language.csv, ek-cntryfix.csv, ek-labor.csv).")
    var data: String

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let ek = try EKData.load(directory: data)
        let fit: GravityFit
        do {
            fit = try gravityRegression(y: ek.logTradeRatios, pairs: ek.pairs, countries: ek.count, countryNames: ek.countries)
        } catch let error as GravityError {
            // Bad data, not a bug: exit 2 naming the file and the column.
            let language = ["sharedlanguage", "europeancom", "efta"]
            let file = language.contains(error.column ?? "") ? "ek-language.csv" : "ek-data.csv"
            throw DataError(file: URL(fileURLWithPath: data).appendingPathComponent(file).path,
                            column: error.column.map { $0.split(separator: " ").first.map(String.init) ?? $0 },
                            problem: error.description)
        }
        defer {
            if !Console.flushOutput() {
                Console.error("error: cannot write the results to standard output (closed or full)")
                Foundation.exit(HatExit.io)
            }
        }
        if json {
            print(gravityJSON(fit, countries: ek.countries, standardErrors: true).rendered())
            return
        }
        let m = fit.moments, se = fit.standardErrors
        print(String(format: "gravity regression: %d observations, %d parameters, R² %.6f, SSR %.6f",
                     fit.observations, fit.parameters, fit.rSquared, fit.sumOfSquaredResiduals))
        let bins = ["[0,375)", "[375,750)", "[750,1500)", "[1500,3000)", "[3000,6000)", "[6000,max]"]
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        for k in 0..<6 { print("  " + pad("distance " + bins[k], 22) + String(format: "%10.6f  (se %.6f)", m.distance[k], se.distance[k])) }
        for k in 0..<4 { print("  " + pad(GravityMoments.dummyNames[k], 22) + String(format: "%10.6f  (se %.6f)", m.dummies[k], se.dummies[k])) }
        print("  country          S_j      (se)   theta_m_i    (se)")
        for i in 0..<ek.count {
            print("  " + pad(ek.countries[i], 8) + String(format: " %10.6f (%.4f) %10.6f (%.4f)", m.S[i], se.S[i], m.thetaM[i], se.thetaM[i]))
        }
    }
}
