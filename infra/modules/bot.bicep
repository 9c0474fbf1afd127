// The Azure Bot: single tenant or user-assigned managed identity (new registrations allow nothing else),
// the Microsoft Teams channel, and the Email channel when a mailbox is given.

param name string
param displayName string
param endpoint string
@allowed(['UserAssignedMSI', 'SingleTenant'])
param appType string
param appId string
param tenantId string
@description('Resource id of the managed identity (UserAssignedMSI only).')
param msiResourceId string = ''
param emailAddress string = ''
@secure()
param emailPassword string = ''
@allowed(['F0', 'S1'])
param sku string = 'F0'

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: name
  location: 'global'
  kind: 'azurebot'
  sku: { name: sku }
  properties: {
    displayName: displayName
    endpoint: endpoint
    msaAppId: appId
    msaAppType: appType
    msaAppTenantId: tenantId
    msaAppMSIResourceId: appType == 'UserAssignedMSI' ? msiResourceId : null
  }
}

resource teams 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: { isEnabled: true }
  }
}

resource email 'Microsoft.BotService/botServices/channels@2022-09-15' = if (!empty(emailAddress)) {
  parent: bot
  name: 'EmailChannel'
  location: 'global'
  properties: {
    channelName: 'EmailChannel'
    properties: {
      emailAddress: emailAddress
      password: emailPassword
      isEnabled: true
    }
  }
}

output botName string = bot.name
