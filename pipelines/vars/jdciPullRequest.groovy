/**
 * Runs the whole pull-request pipeline of jdci in a multibranch PR build:
 * link the JIRA tickets, build and push the image, stand up the preprod environment, run the checks,
 * publish statuses, and merge when the gate allows.
 *
 *   jdciPullRequest()                               // uses jdci.toml in the workspace
 *   jdciPullRequest(config: 'ci/jdci.toml', merge: false)
 *
 * Credentials come from Jenkins credentials bound to the variables jdci reads (never from files):
 * GITHUB_TOKEN, JIRA_USER/JIRA_TOKEN, REGISTRY_USER/REGISTRY_PASSWORD, SLACK_WEBHOOK_URL.
 * Exit codes: 0 done (merged or waiting for reviews), 1 said no, 2 bad config, 3 internal, 4 service down.
 * Needs the Pipeline Utility Steps plugin (readJSON) and the JUnit plugin (junit).
 */
def call(Map options = [:]) {
    String jdci = options.get('jdci', 'jdci')
    List<String> args = ['pr', '--json']
    if (options.config) { args += ['--config', options.config as String] }
    if (options.get('merge', true) == false) { args << '--no-merge' }
    int status = 0
    try {
        status = sh(script: "${jdci} ${args.join(' ')} > jdci-result.json", returnStatus: true)
    } finally {
        archiveArtifacts artifacts: 'jdci-result.json, jdci-reports/**', allowEmptyArchive: true
        junit testResults: 'jdci-reports/*.xml', allowEmptyResults: true
    }
    Map result = readJSON(file: 'jdci-result.json')
    if (status == 1) {
        unstable("jdci: ${result.error?.message ?: 'the pipeline said no'}")
    } else if (status != 0) {
        error("jdci pr failed (exit ${status}): ${result.error?.message ?: 'see the console log'}")
    }
    return result
}
