// peercoach in one resource group: a user-assigned managed identity (the bot's identity, Graph's, PostgreSQL's
// and Key Vault's), the Azure Bot (Teams + Email channels), Linux App Service or Container Apps, Azure Database
// for PostgreSQL flexible server (Entra sign-in only), Key Vault for the LRS/SMTP/Graph secrets, Application
// Insights. Deployed by `atk provision` (m365agents.yml) or `az deployment group create` (docs/deploy.md).
// Outputs are written to env/.env.<env> by the Toolkit under the same (upper-case) names.

@minLength(4)
@maxLength(20)
@description('Prefix of every resource name (lower-case letters and digits).')
param resourceBaseName string

param location string = resourceGroup().location

@allowed(['appService', 'containerApps'])
@description('Where the bot runs: Linux App Service (Python 3.12, gunicorn) or Container Apps (the Dockerfile).')
param hostingPlatform string = 'appService'

@description('App Service plan SKU (appService only): B1 for evaluation, P0v3 or above in production.')
param appServiceSku string = 'B1'

@minValue(1)
@maxValue(30)
@description('Instances (App Service) or minimum replicas (Container Apps); never fewer than one.')
param instanceCount int = 1

@minValue(1)
@maxValue(30)
@description('Maximum replicas (containerApps only).')
param maxReplicas int = 3

@description('Container image (containerApps only); empty: a placeholder until the first image is pushed.')
param containerImage string = ''

param botDisplayName string = 'Peercoach'

@allowed(['UserAssignedMSI', 'SingleTenant'])
@description('UserAssignedMSI: the bot signs in with the managed identity. SingleTenant: an Entra app (botAppId).')
param botAppType string = 'UserAssignedMSI'

@description('Client id of the bot\'s Entra app (SingleTenant only).')
param botAppId string = ''

@secure()
@description('Client secret of that app (SingleTenant only); stored in Key Vault.')
param botAppPassword string = ''

@description('JSON list of AAD object ids or emails allowed to run admin commands.')
param botAdmins string = '[]'

@description('Teams app id (written by teamsApp/create).')
param teamsAppId string = ''

@allowed(['managedIdentity', 'appRegistration', 'none'])
@description('How peercoach calls Microsoft Graph: as the managed identity, as an app registration, or not at all.')
param graphMode string = 'managedIdentity'

param graphClientId string = ''

@secure()
param graphClientSecret string = ''

param graphSenderMailbox string = ''

@description('xAPI endpoint of the Learning Record Store; empty: statements wait in the outbox.')
param lrsEndpoint string = ''
param lrsUsername string = ''

@secure()
param lrsPassword string = ''

@allowed(['basic', 'oauth2'])
param lrsAuth string = 'basic'
param lrsTokenUrl string = ''

param smtpHost string = ''
param smtpUsername string = ''

@secure()
param smtpPassword string = ''
param smtpSender string = 'peercoach@peercoach.example'

@description('Signs links to the web twins of cards (at least 32 characters, e.g. openssl rand -base64 32); empty: no web twins.')
@secure()
param webTwinSigningKey string = ''

@description('Mailbox of the Bot Framework Email channel; empty: no Email channel.')
param emailChannelAddress string = ''

@secure()
param emailChannelPassword string = ''

@description('PostgreSQL compute (Burstable B1ms is enough for thousands of participants).')
param postgresSkuName string = 'Standard_B1ms'
param postgresSkuTier string = 'Burstable'

@description('Seconds `serve` gets on SIGTERM to finish turns and release leases.')
param shutdownGraceSeconds int = 30

var tenantId = subscription().tenantId
var identityName = '${resourceBaseName}-id'
var databaseName = 'peercoach'
var appName = '${resourceBaseName}-app'
var useMsiBot = botAppType == 'UserAssignedMSI'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
}

var botId = useMsiBot ? identity.properties.clientId : botAppId

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${resourceBaseName}-logs'
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${resourceBaseName}-insights'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: '${resourceBaseName}-kv'
    location: location
    readerPrincipalId: identity.properties.principalId
    secrets: {
      'lrs-password': lrsPassword
      'smtp-password': smtpPassword
      'web-twin-signing-key': webTwinSigningKey
      'graph-client-secret': graphMode == 'appRegistration' ? graphClientSecret : ''
      'bot-app-password': useMsiBot ? '' : botAppPassword
    }
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  params: {
    serverName: '${resourceBaseName}-pg'
    location: location
    databaseName: databaseName
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    entraAdminName: identity.name
    entraAdminObjectId: identity.properties.principalId
    tenantId: tenantId
  }
}

// Settings every host gets. Names are peercoach's settings (`peercoach config`); a test checks them.
var plainSettings = concat([
  { name: 'PEERCOACH_HOST', value: '0.0.0.0' }
  { name: 'PEERCOACH_PORT', value: '8000' }
  { name: 'PEERCOACH_LOG_LEVEL', value: 'INFO' }
  { name: 'PEERCOACH_SERVER__LOG_FORMAT', value: 'json' }
  { name: 'PEERCOACH_SERVER__SHUTDOWN_GRACE_S', value: string(shutdownGraceSeconds) }
  // Migrations run as their own step (App Service startup command, Container Apps init container).
  { name: 'PEERCOACH_SERVER__MIGRATE_ON_START', value: 'false' }
  {
    name: 'PEERCOACH_DB__URL'
    value: 'postgresql+asyncpg://${identityName}@${postgres.outputs.fqdn}/${databaseName}?ssl=require'
  }
  { name: 'PEERCOACH_DB__ENTRA_AUTH', value: 'true' }
  { name: 'PEERCOACH_DB__ENTRA_CLIENT_ID', value: identity.properties.clientId }
  { name: 'PEERCOACH_BOT__APP_ID', value: botId }
  { name: 'PEERCOACH_BOT__APP_TYPE', value: botAppType }
  { name: 'PEERCOACH_BOT__APP_TENANT_ID', value: tenantId }
  { name: 'PEERCOACH_BOT__ADMINS', value: botAdmins }
  { name: 'PEERCOACH_MANIFEST__APP_ID', value: teamsAppId }
  { name: 'PEERCOACH_LRS__ENDPOINT', value: lrsEndpoint }
  { name: 'PEERCOACH_LRS__USERNAME', value: lrsUsername }
  { name: 'PEERCOACH_LRS__AUTH', value: lrsAuth }
  { name: 'PEERCOACH_LRS__TOKEN_URL', value: lrsTokenUrl }
  { name: 'PEERCOACH_SMTP__HOST', value: smtpHost }
  { name: 'PEERCOACH_SMTP__USERNAME', value: smtpUsername }
  { name: 'PEERCOACH_SMTP__SENDER', value: smtpSender }
  { name: 'PEERCOACH_GRAPH__SENDER_MAILBOX', value: graphSenderMailbox }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
], graphMode == 'managedIdentity' ? [
  { name: 'PEERCOACH_GRAPH__MANAGED_IDENTITY_CLIENT_ID', value: identity.properties.clientId }
] : graphMode == 'appRegistration' ? [
  { name: 'PEERCOACH_GRAPH__TENANT_ID', value: tenantId }
  { name: 'PEERCOACH_GRAPH__CLIENT_ID', value: graphClientId }
] : [])

// Settings whose value lives in Key Vault: App Service resolves @Microsoft.KeyVault(...) references,
// Container Apps Key Vault secret references; both with the managed identity.
var secretSettings = concat(
  empty(lrsPassword) ? [] : [{ name: 'PEERCOACH_LRS__PASSWORD', secret: 'lrs-password' }],
  empty(smtpPassword) ? [] : [{ name: 'PEERCOACH_SMTP__PASSWORD', secret: 'smtp-password' }],
  empty(webTwinSigningKey) ? [] : [{ name: 'PEERCOACH_WEB_TWIN__SIGNING_KEY', secret: 'web-twin-signing-key' }],
  graphMode != 'appRegistration' || empty(graphClientSecret) ? [] : [
    { name: 'PEERCOACH_GRAPH__CLIENT_SECRET', secret: 'graph-client-secret' }
  ],
  useMsiBot || empty(botAppPassword) ? [] : [{ name: 'PEERCOACH_BOT__APP_PASSWORD', secret: 'bot-app-password' }]
)

module appService 'modules/appservice.bicep' = if (hostingPlatform == 'appService') {
  name: 'appservice'
  params: {
    name: appName
    location: location
    sku: appServiceSku
    instanceCount: instanceCount
    identityId: identity.id
    vaultUri: vault.outputs.vaultUri
    plainSettings: plainSettings
    secretSettings: secretSettings
  }
}

module containerApp 'modules/containerapps.bicep' = if (hostingPlatform == 'containerApps') {
  name: 'containerapps'
  params: {
    name: appName
    baseName: resourceBaseName
    location: location
    image: containerImage
    minReplicas: instanceCount
    maxReplicas: maxReplicas
    identityId: identity.id
    identityPrincipalId: identity.properties.principalId
    logsCustomerId: logs.properties.customerId
    logsSharedKey: logs.listKeys().primarySharedKey
    vaultUri: vault.outputs.vaultUri
    plainSettings: plainSettings
    secretSettings: secretSettings
  }
}

var botDomain = hostingPlatform == 'appService' ? appService!.outputs.domain : containerApp!.outputs.domain

module bot 'modules/bot.bicep' = {
  name: 'bot'
  params: {
    name: resourceBaseName
    displayName: botDisplayName
    endpoint: 'https://${botDomain}/api/messages'
    appType: botAppType
    appId: botId
    tenantId: tenantId
    msiResourceId: useMsiBot ? identity.id : ''
    emailAddress: emailChannelAddress
    emailPassword: emailChannelPassword
  }
}

output BOT_ID string = botId
output BOT_TENANT_ID string = tenantId
output BOT_DOMAIN string = botDomain
output BOT_ENDPOINT string = 'https://${botDomain}'
output AAD_APP_CLIENT_ID string = botId
output MANAGED_IDENTITY_CLIENT_ID string = identity.properties.clientId
output AZURE_APP_SERVICE_RESOURCE_ID string = hostingPlatform == 'appService' ? appService!.outputs.resourceId : ''
output AZURE_CONTAINER_APP_NAME string = hostingPlatform == 'containerApps' ? containerApp!.outputs.appName : ''
output AZURE_CONTAINER_REGISTRY string = hostingPlatform == 'containerApps' ? containerApp!.outputs.registry : ''
output POSTGRES_SERVER_FQDN string = postgres.outputs.fqdn
output KEY_VAULT_NAME string = vault.outputs.name
