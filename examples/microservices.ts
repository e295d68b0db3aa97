import { NotesService } from './notes.js';
import { AppModule } from './tenancy.module.js';

import { Body, Controller, Module, Post, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientsModule, MessagePattern, Payload, Transport } from '@nestjs/microservices';
import { RequireTenant, TenancyService } from 'nestjs-mikro-tenancy';
import { InjectTenantClient, TenantClientProxy, TenantRpcInterceptor } from 'nestjs-mikro-tenancy/microservices';

// The sending app: the request's tenant goes with every message.
@Controller('notes')
@RequireTenant()
export class SendNotesController {
  constructor(@InjectTenantClient('NOTES') private readonly notes: TenantClientProxy) {}

  @Post()
  add(@Body() body: { title: string }) {
    return this.notes.send('notes.add', body); // sends { __tenant: 'acme', data: body }
  }
}

@Module({
  imports: [AppModule, ClientsModule.register([{ name: 'NOTES', transport: Transport.TCP, options: { port: 4000 } }])],
  controllers: [SendNotesController],
  providers: [TenantClientProxy.provider('NOTES')],
})
export class SenderModule {}

// The receiving microservice: each handler runs in the tenant its message carries.
@Controller()
@UseInterceptors(TenantRpcInterceptor)
export class NoteMessages {
  constructor(
    private readonly notes: NotesService,
    private readonly tenancy: TenancyService,
  ) {}

  @MessagePattern('notes.add')
  async add(@Payload() data: { title: string }) { // your payload, unwrapped
    const note = await this.notes.add(data.title); // into the message's tenant
    return { tenant: this.tenancy.current().id, id: note.id };
  }
}

@Module({ imports: [AppModule], controllers: [NoteMessages], providers: [NotesService] })
export class ReceiverModule {}

export async function startReceiver() {
  const app = await NestFactory.createMicroservice(ReceiverModule, { transport: Transport.TCP, options: { port: 4000 } });
  await app.listen();
}
