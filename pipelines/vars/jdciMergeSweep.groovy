/**
 * For a cron job: evaluates every open pull request and merges those whose gate passes.
 * Jenkins does not rebuild when someone approves, so approvals given after the PR build are merged here.
 *
 *   jdciMergeSweep()
 *
 * Needs the Pipeline Utility Steps plugin (readJSON). Exit 75 (a PR still waits) is not a failure.
 */
def call(Map options = [:]) {
    String jdci = options.get('jdci', 'jdci')
    String config = options.config ? "--config ${options.config}" : ''
    int status = sh(script: "${jdci} merge --sweep --json ${config} > jdci-sweep.json", returnStatus: true)
    archiveArtifacts artifacts: 'jdci-sweep.json', allowEmptyArchive: true
    if (status != 0 && status != 75) {
        error("jdci merge --sweep failed (exit ${status})")
    }
    return readJSON(file: 'jdci-sweep.json')
}
