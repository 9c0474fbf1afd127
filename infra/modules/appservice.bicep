// Linux App Service: Python 3.12, gunicorn with aiohttp's worker, health check on /healthz, always on.
// The startup command applies migrations once (an advisory lock serialises instances) and then starts gunicorn.

param name string
param location string
param sku string
param instanceCount int
param identityId string
param vaultUri string
param plainSettings array
param secretSettings array

var domain = '${name}.azurewebsites.net'
var startup = 'peercoach db upgrade && gunicorn -c python:teams_app.entrypoints.gunicorn teams_app.entrypoints.gunicorn:app'

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${name}-plan'
  location: location
  kind: 'linux'
  sku: { name: sku, capacity: instanceCount }
  properties: { reserved: true }
}

var platformSettings = [
  { name: 'SCM_DO_BUILD_DURING_DEPLOYMENT', value: 'true' }
  { name: 'WEBSITES_PORT', value: '8000' }
  { name: 'WEBSITES_CONTAINER_STOP_TIME_LIMIT', value: '60' }
  { name: 'ApplicationInsightsAgent_EXTENSION_VERSION', value: '~3' }
  { name: 'PEERCOACH_PUBLIC_URL', value: 'https://${domain}' }
  { name: 'PEERCOACH_MANIFEST__DOMAIN', value: domain }
]

var vaultReferences = map(secretSettings, s => {
  name: s.name
  value: '@Microsoft.KeyVault(SecretUri=${vaultUri}secrets/${s.secret}/)'
})

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: name
  location: location
  kind: 'app,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      linuxFxVersion: 'PYTHON|3.12'
      appCommandLine: startup
      alwaysOn: true
      healthCheckPath: '/healthz'
      http20Enabled: true
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: concat(platformSettings, plainSettings, vaultReferences)
    }
  }
}

output domain string = site.properties.defaultHostName
output resourceId string = site.id
