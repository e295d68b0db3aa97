import { Injectable, UseInterceptors } from '@nestjs/common';
import { type OnGatewayInit, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Server } from 'socket.io';
import { TenancyService } from 'nestjs-mikro-tenancy';
import { TenantWsHandshake, TenantWsInterceptor } from 'nestjs-mikro-tenancy/websockets';

@Injectable()
@UseInterceptors(TenantWsInterceptor)
@WebSocketGateway()
export class NotesGateway implements OnGatewayInit {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly handshake: TenantWsHandshake,
  ) {}

  afterInit(server: Server): void {
    // refuses an invalid, unknown or suspended tenant before the connection is accepted (connect_error)
    server.use(this.handshake.middleware());
  }

  @SubscribeMessage('whoami')
  whoami() {
    return { tenant: this.tenancy.current().id };
  }
}
