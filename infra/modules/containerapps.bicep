// Container Apps: the Dockerfile's image from a registry the identity may pull from; an init container runs
// `peercoach db upgrade` before each revision starts; liveness /healthz, readiness /readyz; at least one replica.

param name string
param baseName string
param location string
param image string
param minReplicas int
param maxReplicas int
param identityId string
param identityPrincipalId string
param logsCustomerId string
@secure()
param logsSharedKey string
param vaultUri string
param plainSettings array
param secretSettings array

var port = 8000
// Before the first push the app runs a public placeholder image (it answers on port 80).
var effectiveImage = empty(image) ? 'mcr.microsoft.com/k8se/quickstart:latest' : image

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: replace('${baseName}acr', '-', '')
  location: location
  sku: { name: 'Basic' }
  properties: { adminUserEnabled: false }
}

// AcrPull
var acrPullRole = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

resource pull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: registry
  name: guid(registry.id, identityPrincipalId, acrPullRole)
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRole)
  }
}

resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${baseName}-env'
  location: location
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: { customerId: logsCustomerId, sharedKey: logsSharedKey }
    }
  }
}

var domain = '${name}.${environment.properties.defaultDomain}'
var env = concat(plainSettings, [
  { name: 'PORT', value: string(port) }
  { name: 'PEERCOACH_PUBLIC_URL', value: 'https://${domain}' }
  { name: 'PEERCOACH_MANIFEST__DOMAIN', value: domain }
], map(secretSettings, s => { name: s.name, secretRef: s.secret }))

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: name
  location: location
  dependsOn: [pull]
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    managedEnvironmentId: environment.id
    configuration: {
      ingress: {
        external: true
        targetPort: empty(image) ? 80 : port
        transport: 'auto'
        allowInsecure: false
      }
      registries: [{ server: registry.properties.loginServer, identity: identityId }]
      secrets: map(secretSettings, s => {
        name: s.secret
        keyVaultUrl: '${vaultUri}secrets/${s.secret}'
        identity: identityId
      })
    }
    template: {
      terminationGracePeriodSeconds: 60
      initContainers: empty(image) ? [] : [
        {
          name: 'migrate'
          image: effectiveImage
          command: ['peercoach', 'db', 'upgrade']
          env: env
          resources: { cpu: json('0.25'), memory: '0.5Gi' }
        }
      ]
      containers: [
        {
          name: 'peercoach'
          image: effectiveImage
          env: env
          resources: { cpu: json('0.5'), memory: '1Gi' }
          probes: empty(image) ? [] : [
            { type: 'Liveness', httpGet: { path: '/healthz', port: port }, periodSeconds: 30 }
            { type: 'Readiness', httpGet: { path: '/readyz', port: port }, periodSeconds: 10 }
          ]
        }
      ]
      scale: { minReplicas: minReplicas, maxReplicas: maxReplicas }
    }
  }
}

output domain string = app.properties.configuration.ingress.fqdn
output appName string = app.name
output registry string = registry.properties.loginServer
